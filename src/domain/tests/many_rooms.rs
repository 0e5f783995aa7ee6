//! Many rooms: isolation, per-room seqs, entering and parting, names, limits.
