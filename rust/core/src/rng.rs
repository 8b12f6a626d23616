//! Deterministic random streams.
//!
//! Every random choice draws from ChaCha8 seeded with the user's seed and a *stream* named for its
//! purpose, so that (a) results never depend on the order in which unrelated draws happen or on
//! the thread count, and (b) training resumed from saved state replays exactly the same streams.

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng as _, SeedableRng};

/// What a stream of random numbers is used for; each purpose gets its own ChaCha stream.
#[derive(Clone, Copy, Debug)]
pub enum Purpose {
    /// Choosing the rows of the first (seeding) batch.
    SeedSample,
    /// Seeding the K streaming centres from that batch.
    SeedCenters,
    /// Shuffling the rows of epoch `e`.
    Epoch(u64),
    /// Seeding reduction (or full-batch Lloyd) trial `t`.
    Trial(u64),
    /// The seed of the restarts over the rows that compete with a tiny fit's reduction trials.
    Restarts,
}

impl Purpose {
    fn stream(self) -> u64 {
        match self {
            Purpose::SeedSample => 1,
            Purpose::SeedCenters => 2,
            Purpose::Epoch(e) => (1 << 32) + e,
            Purpose::Trial(t) => (2 << 32) + t,
            Purpose::Restarts => 3,
        }
    }
}

/// A ChaCha8 generator with the few draws the core needs.
pub struct Rng(ChaCha8Rng);

impl Rng {
    pub fn new(seed: u64, purpose: Purpose) -> Self {
        let mut inner = ChaCha8Rng::seed_from_u64(seed);
        inner.set_stream(purpose.stream());
        Rng(inner)
    }

    /// Uniform in `[0, 1)` with 53 random bits.
    pub fn uniform(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A seed for a nested computation that names its own streams ([`Rng::new`]).
    pub fn next_seed(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform integer in `0..n` (`n > 0`), without modulo bias (Lemire's method). A draw is
    /// kept when the low half of its product is at least `2⁶⁴ mod n`, which is below `n`: a low
    /// half of at least `n` is kept without computing it, as Lemire does, so that nearly every
    /// draw costs no division (the same draws are kept either way). The division was most of a
    /// shuffle's time: 1.4 ms of skin_nonskin's 245,057 rows.
    pub fn below(&mut self, n: usize) -> usize {
        let n = n as u64;
        loop {
            let m = (self.0.next_u64() as u128) * (n as u128);
            let low = m as u64;
            if low >= n || low >= n.wrapping_neg() % n {
                return (m >> 64) as usize;
            }
        }
    }

    /// `0..n` in random order (Fisher–Yates).
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        self.permutation_of(n, |i| i)
    }

    /// [`Rng::permutation`] as `u32` (`n <= 2³²`): the same order in half the memory, which an
    /// epoch over a million rows writes and reads at random.
    pub fn permutation_u32(&mut self, n: usize) -> Vec<u32> {
        assert!(n <= 1 << 32, "u32 indices name at most 2^32 rows");
        self.permutation_of(n, |i| i as u32)
    }

    fn permutation_of<I>(&mut self, n: usize, index: impl Fn(usize) -> I) -> Vec<I> {
        let mut p: Vec<I> = (0..n).map(index).collect();
        for i in (1..n).rev() {
            p.swap(i, self.below(i + 1));
        }
        p
    }

    /// `m` distinct indices from `0..n` (`m <= n`), in random order (partial Fisher–Yates).
    pub fn sample(&mut self, n: usize, m: usize) -> Vec<usize> {
        if m * 4 >= n {
            let mut p = self.permutation(n);
            p.truncate(m);
            return p;
        }
        // Partial Fisher–Yates over a sparse swap map: memory O(m) instead of O(n).
        let mut swapped = std::collections::HashMap::with_capacity(2 * m);
        let mut out = Vec::with_capacity(m);
        for i in 0..m {
            let j = i + self.below(n - i);
            let vi = *swapped.get(&i).unwrap_or(&i);
            let vj = *swapped.get(&j).unwrap_or(&j);
            swapped.insert(j, vi);
            out.push(vj);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fisher–Yates written out: the order both permutations must give, draw for draw.
    fn plain_permutation(rng: &mut Rng, n: usize) -> Vec<usize> {
        let mut p: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            p.swap(i, rng.below(i + 1));
        }
        p
    }

    #[test]
    fn u32_and_usize_permutations_are_one_order_and_use_the_same_draws() {
        for n in [0, 1, 2, 31, 32, 33, 34, 1000, 100_003] {
            let (mut a, mut b, mut c) =
                (Rng::new(7, Purpose::Epoch(3)), Rng::new(7, Purpose::Epoch(3)), Rng::new(7, Purpose::Epoch(3)));
            let expected = plain_permutation(&mut a, n);
            assert_eq!(b.permutation(n), expected, "n = {n}");
            let as_u32: Vec<usize> = c.permutation_u32(n).into_iter().map(|i| i as usize).collect();
            assert_eq!(as_u32, expected, "n = {n}");
            let next = a.uniform();
            assert_eq!((b.uniform(), c.uniform()), (next, next), "n = {n}: draws after the permutation");
        }
    }

    /// Lemire's method as written first, with the division on every draw.
    fn below_dividing(rng: &mut Rng, n: usize) -> usize {
        let n = n as u64;
        loop {
            let m = (rng.0.next_u64() as u128) * (n as u128);
            if m as u64 >= n.wrapping_neg() % n {
                return (m >> 64) as usize;
            }
        }
    }

    /// The shortcut keeps and rejects the same draws: the same values and the same stream after.
    /// Near 2⁶³ about half the draws are rejected, so both branches run.
    #[test]
    fn below_keeps_the_draws_of_the_dividing_method() {
        for n in [1, 2, 3, 7, 1000, 100_003, (1 << 32) + 1, (1 << 63) + 1, (1 << 63) + (1 << 62), usize::MAX] {
            let (mut fast, mut slow) = (Rng::new(11, Purpose::Trial(2)), Rng::new(11, Purpose::Trial(2)));
            for draw in 0..2_000 {
                assert_eq!(fast.below(n), below_dividing(&mut slow, n), "n = {n}, draw {draw}");
            }
            assert_eq!(fast.next_seed(), slow.next_seed(), "n = {n}: the stream after");
        }
    }
}
