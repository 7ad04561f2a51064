//! The live fleet's hardware: a realistic memory mix of Mac identifiers
//! (`shared/mac-models.md`) and the planted over-claims.
//!
//! Invariants (unit-tested): every honest entry's memory is within its
//! model's cap in [`floorline_core::models::DEFAULT_MODEL_CAPS`], so an
//! honest machine is never capped; the mix's weights sum to 1000 (‰); its
//! mean is near 27 GB with about 18 % at 64 GB or more.

use floorline_core::models::default_cap_gb;

/// One kind of machine in the mix, with its weight in per mille.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MixEntry {
    pub model: &'static str,
    pub memory_gb: u32,
    pub weight_permille: u32,
}

const fn entry(model: &'static str, memory_gb: u32, weight_permille: u32) -> MixEntry {
    MixEntry {
        model,
        memory_gb,
        weight_permille,
    }
}

/// The honest memory mix: mostly 8–16 GB laptops and minis (usage-only),
/// a band of 24–48 GB Pros, and 18 % at 64 GB or more (Studios, Max chips).
pub const MEMORY_MIX: &[MixEntry] = &[
    entry("MacBookAir10,1", 8, 119), // MacBook Air M1
    entry("Macmini9,1", 8, 70),      // Mac mini M1
    entry("Mac14,2", 8, 120),        // MacBook Air 13" M2
    entry("Mac15,12", 8, 100),       // MacBook Air 13" M3
    entry("MacBookPro17,1", 16, 50), // MacBook Pro 13" M1
    entry("Mac14,3", 16, 60),        // Mac mini M2
    entry("Mac16,10", 16, 100),      // Mac mini M4
    entry("Mac16,12", 16, 60),       // MacBook Air 13" M4
    entry("Mac16,10", 24, 40),       // Mac mini M4
    entry("Mac15,13", 24, 20),       // MacBook Air 15" M3
    entry("Mac14,12", 32, 20),       // Mac mini M2 Pro
    entry("MacBookPro18,3", 32, 10), // MacBook Pro 14" M1 Pro
    entry("Mac15,6", 36, 10),        // MacBook Pro 14" M3 Pro
    entry("Mac16,8", 48, 30),        // MacBook Pro 14" M4 Pro
    entry("Mac16,11", 48, 10),       // Mac mini M4 Pro
    entry("Mac16,11", 64, 70),       // Mac mini M4 Pro
    entry("Mac13,1", 64, 40),        // Mac Studio M1 Max
    entry("MacBookPro18,2", 64, 30), // MacBook Pro 16" M1 Max
    entry("Mac14,13", 96, 20),       // Mac Studio M2 Max
    entry("Mac16,9", 128, 10),       // Mac Studio M4 Max
    entry("Mac14,14", 192, 10),      // Mac Studio M2 Ultra
    entry("Mac15,14", 512, 1),       // Mac Studio M3 Ultra
];

/// `(model, reported GB)` of the planted known-model over-claims: each
/// reports more than its identifier can have (caps 32, 32, 36).
pub const OVER_CLAIMS: &[(&str, u32)] = &[("Mac14,9", 96), ("Mac14,10", 64), ("Mac15,6", 128)];

/// `(model, reported GB)` of the planted unknown-model over-claims: the
/// identifiers are in no table, so they fall to `unknown_model_cap_gb`.
pub const UNKNOWN_CLAIMS: &[(&str, u32)] = &[("NotAModel99,9", 512), ("Mac99,1", 192)];

/// Real, honestly reported machines the other cheaters run on.
pub const CHEATER_HARDWARE: &[(&str, u32)] = &[
    ("Mac16,11", 64),
    ("Mac14,13", 96),
    ("Mac16,9", 128),
    ("Mac13,1", 64),
    ("Mac16,8", 48),
];

/// Counts per mix entry for `n` machines, by largest remainder, so a fleet
/// has exactly the mix (not a noisy sample of it).
pub fn apportion(n: usize) -> Vec<(MixEntry, usize)> {
    let total: usize = MEMORY_MIX
        .iter()
        .map(|e| usize::try_from(e.weight_permille).unwrap_or(0))
        .sum();
    if total == 0 {
        return Vec::new();
    }
    let mut rows: Vec<(MixEntry, usize, usize)> = MEMORY_MIX
        .iter()
        .map(|e| {
            let w = usize::try_from(e.weight_permille).unwrap_or(0);
            let exact = n.saturating_mul(w);
            (*e, exact / total, exact % total)
        })
        .collect();
    let assigned: usize = rows.iter().map(|r| r.1).sum();
    let mut order: Vec<usize> = (0..rows.len()).collect();
    // Largest remainder first; ties by position in the table.
    order.sort_by(|a, b| {
        let ra = rows.get(*a).map_or(0, |r| r.2);
        let rb = rows.get(*b).map_or(0, |r| r.2);
        rb.cmp(&ra).then(a.cmp(b))
    });
    for i in order.into_iter().take(n.saturating_sub(assigned)) {
        if let Some(r) = rows.get_mut(i) {
            r.1 = r.1.saturating_add(1);
        }
    }
    rows.into_iter().map(|(e, count, _)| (e, count)).collect()
}

/// The cap of a model identifier in the default table (`None`: unknown).
pub fn cap_gb(model: &str) -> Option<u32> {
    default_cap_gb(model)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn honest_entries_are_within_their_caps() {
        let pairs = MEMORY_MIX
            .iter()
            .map(|e| (e.model, e.memory_gb))
            .chain(CHEATER_HARDWARE.iter().copied());
        for (model, gb) in pairs {
            let cap = cap_gb(model).unwrap_or_else(|| panic!("{model} is unknown"));
            assert!(gb <= cap, "{model} {gb} > cap {cap}");
        }
    }

    #[test]
    fn over_claims_exceed_their_caps() {
        for (m, gb) in OVER_CLAIMS {
            assert!(cap_gb(m).unwrap() < *gb, "{m}");
        }
        for (m, _) in UNKNOWN_CLAIMS {
            assert_eq!(cap_gb(m), None, "{m}");
        }
    }

    #[test]
    fn the_mix_is_the_cold_start_network() {
        let total: u32 = MEMORY_MIX.iter().map(|e| e.weight_permille).sum();
        assert_eq!(total, 1000);
        let gb_permille: u32 = MEMORY_MIX
            .iter()
            .map(|e| e.memory_gb * e.weight_permille)
            .sum();
        // 26.9 GB mean.
        assert!((26_000..=28_000).contains(&gb_permille), "{gb_permille}");
        let big: u32 = MEMORY_MIX
            .iter()
            .filter(|e| e.memory_gb >= 64)
            .map(|e| e.weight_permille)
            .sum();
        assert_eq!(big, 181);
    }

    #[test]
    fn apportion_gives_exactly_n() {
        for n in [0, 1, 7, 120, 583, 600, 1000] {
            let rows = apportion(n);
            assert_eq!(rows.iter().map(|r| r.1).sum::<usize>(), n, "{n}");
        }
        let rows = apportion(1000);
        assert!(rows
            .iter()
            .all(|(e, c)| *c == usize::try_from(e.weight_permille).unwrap()));
    }
}
