//! Half-open millisecond intervals `[a, b)`: union, difference, intersection.
//! A [`Set`] is always sorted, disjoint and free of empty or touching pieces.

/// A normalised set of half-open intervals.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Set(Vec<(i64, i64)>);

impl Set {
    /// The union of any intervals (empty and reversed ones are dropped).
    pub fn union_of(mut pieces: Vec<(i64, i64)>) -> Set {
        pieces.retain(|(a, b)| a < b);
        pieces.sort_unstable();
        let mut out: Vec<(i64, i64)> = Vec::with_capacity(pieces.len());
        for (a, b) in pieces {
            match out.last_mut() {
                Some(last) if a <= last.1 => last.1 = last.1.max(b),
                _ => out.push((a, b)),
            }
        }
        Set(out)
    }

    pub fn pieces(&self) -> &[(i64, i64)] {
        &self.0
    }

    /// Total length in ms.
    pub fn len_ms(&self) -> i64 {
        self.0
            .iter()
            .map(|(a, b)| b.saturating_sub(*a))
            .fold(0i64, i64::saturating_add)
    }

    /// `self \ other`.
    pub fn minus(&self, other: &Set) -> Set {
        let mut out = Vec::with_capacity(self.0.len());
        let mut j = 0usize;
        for &(a, b) in &self.0 {
            let mut cur = a;
            while let Some(&(oa, ob)) = other.0.get(j) {
                if ob <= cur {
                    j = j.saturating_add(1);
                    continue;
                }
                if oa >= b {
                    break;
                }
                if oa > cur {
                    out.push((cur, oa));
                }
                cur = cur.max(ob);
                if ob >= b {
                    break;
                }
                j = j.saturating_add(1);
            }
            if cur < b {
                out.push((cur, b));
            }
        }
        Set(out)
    }

    /// Length of `self ∩ [a, b)` in ms.
    pub fn overlap_ms(&self, a: i64, b: i64) -> i64 {
        self.0
            .iter()
            .map(|&(x, y)| y.min(b).saturating_sub(x.max(a)).max(0))
            .fold(0i64, i64::saturating_add)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn union_merges_overlaps_once() {
        let s = Set::union_of(vec![(0, 10), (5, 15), (20, 30), (30, 31), (40, 40)]);
        assert_eq!(s.pieces(), &[(0, 15), (20, 31)]);
        assert_eq!(s.len_ms(), 26);
    }

    #[test]
    fn minus_cuts_holes() {
        let s = Set::union_of(vec![(0, 100)]);
        let holes = Set::union_of(vec![(-5, 10), (20, 30), (90, 200)]);
        assert_eq!(s.minus(&holes).pieces(), &[(10, 20), (30, 90)]);
        let s2 = Set::union_of(vec![(0, 10), (20, 30)]);
        assert_eq!(
            s2.minus(&Set::union_of(vec![(5, 25)])).pieces(),
            &[(0, 5), (25, 30)]
        );
        assert_eq!(s2.minus(&Set::default()), s2);
    }

    #[test]
    fn overlap() {
        let s = Set::union_of(vec![(0, 10), (20, 30)]);
        assert_eq!(s.overlap_ms(5, 25), 10);
        assert_eq!(s.overlap_ms(i64::MIN, i64::MAX), 20);
    }
}
