//! Order statistics over measured samples: medians, percentiles and ratios.

use std::time::Duration;

/// The `q`-quantile (0.0 ..= 1.0) of `sorted` by the nearest-rank method; `None` when empty.
pub fn quantile<T: Copy>(sorted: &[T], q: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.saturating_sub(1).min(sorted.len() - 1)])
}

/// Median of unsorted values (the mean of the two middle ones for an even count); 0 when empty.
pub fn median(values: &[f64]) -> f64 {
    let mut sorted: Vec<f64> = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// Latencies of many requests, kept whole so that any percentile can be read.
#[derive(Debug, Clone, Default)]
pub struct Latencies {
    samples: Vec<Duration>,
    sorted: bool,
}

impl Latencies {
    /// Adds the samples of another run.
    pub fn extend(&mut self, more: impl IntoIterator<Item = Duration>) {
        self.samples.extend(more);
        self.sorted = false;
    }

    /// The `q`-quantile in milliseconds (0 when there are no samples).
    pub fn percentile_ms(&mut self, q: f64) -> f64 {
        if !self.sorted {
            self.samples.sort_unstable();
            self.sorted = true;
        }
        quantile(&self.samples, q).map_or(0.0, |d| d.as_secs_f64() * 1e3)
    }
}

/// `a / b`, or 0 when `b` is 0 (so a failed baseline never divides by zero).
pub fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 { 0.0 } else { a / b }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&[]), 0.0);
    }

    #[test]
    fn nearest_rank_percentiles() {
        let values: Vec<u32> = (1..=100).collect();
        assert_eq!(quantile(&values, 0.5), Some(50));
        assert_eq!(quantile(&values, 0.99), Some(99));
        assert_eq!(quantile(&values, 1.0), Some(100));
        assert_eq!(quantile(&values, 0.0), Some(1));
        assert_eq!(quantile::<u32>(&[], 0.5), None);
    }

    #[test]
    fn latencies_percentiles_in_milliseconds() {
        let mut latencies = Latencies::default();
        latencies.extend((1..=10).map(Duration::from_millis));
        assert_eq!(latencies.percentile_ms(0.5), 5.0);
        latencies.extend([Duration::from_millis(100)]);
        assert_eq!(latencies.percentile_ms(1.0), 100.0);
    }

    #[test]
    fn ratio_never_divides_by_zero() {
        assert_eq!(ratio(1.0, 0.0), 0.0);
        assert_eq!(ratio(3.0, 2.0), 1.5);
    }
}
