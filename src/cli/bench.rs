//! `chatroom bench` run from its flags: one run or a ramp, with progress and the report printed.

use std::time::Duration;

use chatroom::bench::BenchConfig;
use tracing_subscriber::EnvFilter;

use crate::BenchArgs;

pub async fn bench(args: BenchArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    anyhow::ensure!(
        args.publishers <= args.clients,
        "--publishers ({}) cannot exceed --clients ({})",
        args.publishers,
        args.clients
    );
    let fewest_clients = if args.ramp {
        chatroom::bench::RAMP_STEPS[0] as u64
    } else {
        args.clients
    };
    anyhow::ensure!(
        args.rooms <= fewest_clients,
        "--rooms ({}) cannot exceed the members ({fewest_clients})",
        args.rooms,
    );
    // Several addresses, each in the same form as one alone, with the same ways to trust it.
    let urls = if args.servers.is_empty() {
        vec![args.access.url(&args.server)?]
    } else {
        let url = |server: &String| args.access.url(server);
        args.servers
            .iter()
            .map(url)
            .collect::<anyhow::Result<_>>()?
    };
    let config = BenchConfig {
        urls,
        tls: args.access.tls(),
        password: args.access.password()?,
        clients: args.clients as usize,
        publishers: args.publishers as usize,
        messages: args.duration.is_none().then_some(args.messages),
        duration: args.duration,
        rate: args.rate,
        size: args.size,
        rooms: args.rooms as usize,
    };
    if args.ramp {
        if !args.json {
            println!(
                "{:>8}  {:>12}  {:>10}  {:>10}  {:>10}  {:>6}",
                "members", "deliveries/s", "ack p95 ms", "ack p99 ms", "lat p99 ms", "lost"
            );
        }
        let steps = chatroom::bench::ramp(&config, |step| {
            if args.json {
                return;
            }
            match &step.report {
                Ok(r) => println!(
                    "{:>8}  {:>12.0}  {:>10.1}  {:>10.1}  {:>10.1}  {:>6}",
                    step.clients,
                    r.deliveries_per_sec,
                    r.ack_ms.p95,
                    r.ack_ms.p99,
                    r.latency_ms.p99,
                    r.lost
                ),
                Err(err) => println!("{:>8}  failed: {err}", step.clients),
            }
        })
        .await;
        if args.json {
            let rows: Vec<_> = steps
                .iter()
                .map(|step| match &step.report {
                    Ok(report) => serde_json::to_value(report).expect("reports serialize"),
                    Err(err) => {
                        serde_json::json!({ "clients": step.clients, "error": err.to_string() })
                    }
                })
                .collect();
            println!("{}", serde_json::Value::Array(rows));
        }
        if let Some(path) = &args.plot {
            chatroom::bench::plot::ramp_plot(path, &steps)?;
            eprintln!("plot written to {}", path.display());
        }
        let clean = steps
            .iter()
            .all(|step| step.report.as_ref().is_ok_and(|r| r.is_clean()) || step.report.is_err());
        anyhow::ensure!(
            clean,
            "messages were lost, duplicated, reordered or misrouted"
        );
        return Ok(());
    }

    let bar = if args.json {
        indicatif::ProgressBar::hidden()
    } else {
        eprintln!(
            "opening {} members ({} publishing{}) on {} …",
            config.clients,
            config.publishers,
            rooms_note(config.rooms),
            config.urls.join(", ")
        );
        let bar = indicatif::ProgressBar::new_spinner();
        bar.enable_steady_tick(Duration::from_millis(100));
        bar
    };
    let report = {
        let bar = bar.clone();
        chatroom::bench::run(&config, move |deliveries, sent| {
            bar.set_message(format!("{sent} sent, {deliveries} delivered"));
        })
        .await
    };
    bar.finish_and_clear();
    let report = report?;
    if let Some(path) = &args.plot {
        let title = format!(
            "latency by percentile: {} members, {} publishing, {} B",
            report.clients, report.publishers, config.size
        );
        chatroom::bench::plot::percentile_plot(
            path,
            &title,
            &[
                ("delivery", &report.latency_curve),
                ("send acknowledged", &report.ack_curve),
            ],
        )?;
        eprintln!("plot written to {}", path.display());
    }
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_report(&report);
    }
    anyhow::ensure!(
        report.is_clean(),
        "{} lost, {} duplicated, {} out of order, {} misrouted",
        report.lost,
        report.duplicated,
        report.out_of_order,
        report.misrouted
    );
    Ok(())
}

fn print_report(r: &chatroom::bench::Report) {
    let p = |p: &chatroom::bench::Percentiles| {
        format!(
            "p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}",
            p.p50, p.p90, p.p99, p.p999, p.max
        )
    };
    println!(
        "members      {} connected in {:.2} s ({} publishing{})",
        r.clients,
        r.connect_s,
        r.publishers,
        rooms_note(r.rooms)
    );
    if r.servers.len() > 1 {
        let shares: Vec<String> = r
            .servers
            .iter()
            .map(|share| format!("{} on {}", share.members, share.url))
            .collect();
        println!("servers      {}", shares.join(", "));
    }
    println!("messages     {} sent", r.messages_sent);
    println!(
        "deliveries   {} of {} expected: {} lost, {} duplicated, {} out of order{}",
        r.deliveries,
        r.deliveries_expected,
        r.lost,
        r.duplicated,
        r.out_of_order,
        if r.rooms > 1 {
            format!(", {} misrouted", r.misrouted)
        } else {
            String::new()
        }
    );
    println!(
        "throughput   {:.0} deliveries/s over {:.2} s",
        r.deliveries_per_sec, r.elapsed_s
    );
    println!("latency ms   {}", p(&r.latency_ms));
    println!(
        "ack ms       p50 {:.2}  p95 {:.2}  p99 {:.2}",
        r.ack_ms.p50, r.ack_ms.p95, r.ack_ms.p99
    );
}

/// ", over N rooms" when the members are spread over rooms.
fn rooms_note(rooms: usize) -> String {
    if rooms > 1 {
        format!(", over {rooms} rooms")
    } else {
        String::new()
    }
}
