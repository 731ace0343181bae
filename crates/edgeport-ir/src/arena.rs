//! Arena planning shared by the runtimes: values with known lifetimes get offsets in one
//! buffer so that values alive at the same time never overlap and dead ones are reused.

/// A value's lifetime in step indices (inclusive at both ends) and its length in floats.
#[derive(Debug, Clone, Copy)]
pub struct Interval {
    pub first: usize,
    pub last: usize,
    pub len: usize,
}

/// Offsets for `intervals` such that values alive at the same time never overlap. Greedy by
/// size (largest first), each at the lowest offset that fits; offsets are 16-float aligned.
pub fn assign_offsets(intervals: &[Interval]) -> (Vec<usize>, usize) {
    const ALIGN: usize = 16;
    let mut order: Vec<usize> = (0..intervals.len()).collect();
    order.sort_by(|&a, &b| intervals[b].len.cmp(&intervals[a].len).then(a.cmp(&b)));
    let mut offsets = vec![0usize; intervals.len()];
    let mut placed: Vec<usize> = Vec::new();
    let mut total = 0usize;
    for &i in &order {
        let me = intervals[i];
        let mut taken: Vec<(usize, usize)> = placed
            .iter()
            .filter(|&&j| intervals[j].first <= me.last && me.first <= intervals[j].last)
            .map(|&j| (offsets[j], offsets[j] + intervals[j].len))
            .collect();
        taken.sort_unstable();
        let mut at = 0usize;
        for (start, end) in taken {
            if at + me.len <= start {
                break;
            }
            at = at.max(end.div_ceil(ALIGN) * ALIGN);
        }
        offsets[i] = at;
        total = total.max(at + me.len);
        placed.push(i);
    }
    (offsets, total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_values_never_overlap_and_dead_ones_are_reused() {
        let iv = [
            Interval {
                first: 0,
                last: 1,
                len: 100,
            },
            Interval {
                first: 1,
                last: 2,
                len: 50,
            },
            Interval {
                first: 2,
                last: 3,
                len: 100,
            },
            Interval {
                first: 3,
                last: 3,
                len: 10,
            },
        ];
        let (off, total) = assign_offsets(&iv);
        for i in 0..iv.len() {
            for j in 0..i {
                let live = iv[i].first <= iv[j].last && iv[j].first <= iv[i].last;
                let overlap = off[i] < off[j] + iv[j].len && off[j] < off[i] + iv[i].len;
                assert!(!(live && overlap), "{i} and {j} overlap");
            }
        }
        // value 2 reuses value 0's range
        assert!(total < 250, "total {total}");
    }
}
