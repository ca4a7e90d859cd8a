//! One of N equal parts of a load or a sweep (`--shard K/N`), for running them on many machines
//! under a scheduler that numbers its tasks from 0 (a Kubernetes Indexed Job, a Slurm job
//! array). Item `i` of the whole (an open-model arrival, a closed-model user, a sweep's point)
//! belongs to shard `i mod N`, so the N shards together are exactly the unsharded run, each
//! item in exactly one. It owns only that rule: parsing `--shard` and reading the scheduler's
//! environment are the CLI's, and merging the shards' outputs is `httplab merge`'s.

/// The `index`-th of `count` parts, counting from 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    index: u32,
    count: u32,
}

impl Shard {
    /// The `index`-th of `count` parts; `None` unless `index < count` (so `count >= 1`).
    pub fn new(index: u32, count: u32) -> Option<Shard> {
        (index < count).then_some(Shard { index, count })
    }

    /// Which part this is, from 0.
    pub fn index(self) -> u32 {
        self.index
    }

    /// How many parts there are.
    pub fn count(self) -> u32 {
        self.count
    }

    /// Whether item `i` of the whole belongs to this part.
    pub fn keeps(self, i: u64) -> bool {
        i % u64::from(self.count) == u64::from(self.index)
    }

    /// How many of the items `0..total` belong to this part.
    pub fn share(self, total: u64) -> u64 {
        let (index, count) = (u64::from(self.index), u64::from(self.count));
        total.saturating_sub(index).div_ceil(count)
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_index_below_the_count_is_a_shard() {
        assert_eq!(Shard::new(0, 0), None);
        assert_eq!(Shard::new(2, 2), None);
        assert_eq!(Shard::new(3, 2), None);
        let s = Shard::new(1, 2).expect("1 of 2");
        assert_eq!((s.index(), s.count(), s.to_string()), (1, 2, "1/2".into()));
    }

    #[test]
    fn the_shards_together_hold_every_item_once() {
        for count in 1..=5u32 {
            for total in 0..=12u64 {
                let mut held = vec![0u32; total as usize];
                let mut shares = 0;
                for index in 0..count {
                    let s = Shard::new(index, count).expect("below the count");
                    let kept: Vec<u64> = (0..total).filter(|&i| s.keeps(i)).collect();
                    assert_eq!(kept.len() as u64, s.share(total), "{s} of {total}");
                    shares += s.share(total);
                    for i in kept {
                        held[i as usize] += 1;
                    }
                }
                assert!(held.iter().all(|&n| n == 1), "{count} shards of {total}");
                assert_eq!(shares, total);
            }
        }
    }
}
