//! `MQTT_Connect_Exponential_Backoff_Retries`: the endpoint withholds CONNACK from the device's
//! first five CONNECTs (Device Advisor: "reconnecting with the broker for at least five times
//! ... pauses without sending a CONNACK"), lets the sixth through, and judges the five delays
//! the device waited between giving up on one attempt and opening the next. It does not repeat
//! the cycle (Device Advisor's jitter test does, for twelve connects), and it does not judge
//! how long the device waits for a CONNACK: a device that waits longer than the step timeout
//! is disconnected, and its delay counts from there.
//!
//! The thresholds, and how they were chosen: the delays are fitted on a log scale against the
//! attempt number (least squares). Growth is the fitted factor per attempt: doubling, the usual
//! choice (AWS's "Exponential Backoff And Jitter", the AWS IoT Device SDKs), gives 2, a fixed
//! delay gives 1, and a linear back-off of 1, 2, 3, 4, 5 units gives 1.48, so [`GROWTH_MIN`] is
//! 1.5. Jitter is the spread of the delays around that fit (standard deviation of the log
//! residuals): a device without jitter shows only the endpoint's timing noise, measured at 0.00
//! (two decimals) for a client doubling from 0.15 s, while equal jitter (a delay drawn between
//! half and all of the exponential one, ln-spread 0.19 per delay) measured 0.24, so
//! [`JITTER_MIN`] is 0.05. A delay within [`TIMING_NOISE`] of the fit counts as on it: on a
//! busy machine the endpoint saw a doubling client's first 0.15 s delay as 0.18 s (the
//! scheduler, not the device), which alone made a spread of 0.05. Device
//! Advisor's jitter test passes a strict exponential back-off with a warning; this test does
//! the same, as its page recommends exponential backoff and jitter.

use std::time::Instant;

use super::Outcome;
use super::attempt::Judged;

/// CONNECTs answered with silence before one gets its CONNACK.
pub(crate) const WITHHELD: usize = 5;
/// The smallest fitted growth factor per attempt that counts as exponential.
pub(crate) const GROWTH_MIN: f64 = 1.5;
/// The smallest spread of ln(delay) around the fit that counts as jitter.
pub(crate) const JITTER_MIN: f64 = 0.05;
/// Seconds by which a delay may miss the fit and still count as on it: the endpoint's own
/// timing noise (scheduling, the handshake), not the device's jitter.
pub(crate) const TIMING_NOISE: f64 = 0.05;

/// What to change when the delays do not grow.
pub(crate) const FIX: &str = "wait longer after each failed connection attempt, doubling the \
    delay up to a cap, and add random jitter (AWS's \"Exponential Backoff And Jitter\"; coreMQTT \
    users: BackoffAlgorithm_GetNextBackoff from the backoffAlgorithm library; the AWS IoT \
    Device SDKs do this by default); a fixed reconnect delay makes a fleet reconnect in lockstep";

/// The test's connection attempts so far.
#[derive(Debug, Default)]
pub(crate) struct Attempts {
    /// CONNECTs seen.
    pub connects: usize,
    /// When the last withheld attempt's connection ended.
    closed: Option<Instant>,
    /// Seconds from each withheld attempt's end to the next attempt's connection.
    delays: Vec<f64>,
}

impl Attempts {
    /// Counts a CONNECT whose TCP connection was accepted at `accepted`; true when its CONNACK
    /// is to be withheld.
    pub fn connect(&mut self, accepted: Instant) -> bool {
        if let Some(closed) = self.closed.take() {
            self.delays
                .push(accepted.saturating_duration_since(closed).as_secs_f64());
        }
        self.connects += 1;
        self.connects <= WITHHELD
    }

    /// The withheld attempt's connection ended.
    pub fn ended(&mut self) {
        self.closed = Some(Instant::now());
    }

    /// The delays measured so far, for progress lines.
    pub fn last_delay(&self) -> Option<f64> {
        self.delays.last().copied()
    }

    /// Judges the delays.
    pub fn judge(&self) -> Judged {
        judge(&self.delays)
    }
}

/// The fitted growth factor per attempt and the spread around the fit, of `delays`.
fn fit(delays: &[f64]) -> Option<(f64, f64)> {
    if delays.len() < 3 {
        return None;
    }
    let n = delays.len() as f64;
    let ys: Vec<f64> = delays.iter().map(|d| d.max(0.001).ln()).collect();
    let x_mean = (n - 1.0) / 2.0;
    let y_mean = ys.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (i, y) in ys.iter().enumerate() {
        let dx = i as f64 - x_mean;
        sxy += dx * (y - y_mean);
        sxx += dx * dx;
    }
    let slope = sxy / sxx;
    let residuals: f64 = ys
        .iter()
        .zip(delays)
        .enumerate()
        .map(|(i, (y, delay))| {
            let fitted = y_mean + slope * (i as f64 - x_mean);
            if (delay - fitted.exp()).abs() <= TIMING_NOISE {
                0.0
            } else {
                (y - fitted).powi(2)
            }
        })
        .sum();
    Some((slope.exp(), (residuals / (n - 2.0)).sqrt()))
}

fn judge(delays: &[f64]) -> Judged {
    let listed: Vec<String> = delays.iter().map(|d| format!("{d:.2}")).collect();
    let waited = format!(
        "waited {} s between its connection attempts",
        listed.join(", ")
    );
    let Some((growth, spread)) = fit(delays) else {
        return Judged {
            outcome: Outcome::Fail,
            device_did: format!("{waited}: too few attempts to judge"),
            fix: Some(FIX.to_owned()),
        };
    };
    let measured = format!("growth ×{growth:.2} per attempt, jitter {spread:.2}");
    if growth < GROWTH_MIN {
        return Judged {
            outcome: Outcome::Fail,
            device_did: format!(
                "{waited} ({measured}): the delay does not grow exponentially (×{GROWTH_MIN} \
                 per attempt at least)"
            ),
            fix: Some(FIX.to_owned()),
        };
    }
    if spread < JITTER_MIN {
        return Judged {
            outcome: Outcome::PassWithWarnings,
            device_did: format!("{waited} ({measured}): exponential, but without jitter"),
            fix: Some(
                "add random jitter to each reconnect delay (for example a delay drawn between \
                 half and all of the exponential one), so that devices disconnected together \
                 do not reconnect together"
                    .to_owned(),
            ),
        };
    }
    Judged {
        outcome: Outcome::Pass,
        device_did: format!("{waited} ({measured}): exponential back-off with jitter"),
        fix: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubling_with_jitter_passes_without_it_warns_and_fixed_or_linear_delays_fail() {
        let jittered = judge(&[0.17, 0.31, 0.78, 1.21, 3.05]);
        assert_eq!(jittered.outcome, Outcome::Pass, "{}", jittered.device_did);
        let strict = judge(&[0.2, 0.4, 0.8, 1.6, 3.2]);
        assert_eq!(strict.outcome, Outcome::PassWithWarnings);
        assert!(strict.device_did.contains("without jitter"));
        let noisy = judge(&[0.205, 0.398, 0.81, 1.596, 3.21]);
        assert_eq!(noisy.outcome, Outcome::PassWithWarnings);
        // Measured on a loaded machine for a client doubling from 0.15 s.
        let late_first = judge(&[0.18, 0.31, 0.60, 1.20, 2.40]);
        assert_eq!(
            late_first.outcome,
            Outcome::PassWithWarnings,
            "{}",
            late_first.device_did
        );
        // Measured for a client with jitter, in the same run.
        let measured = judge(&[0.10, 0.30, 0.55, 0.73, 2.24]);
        assert_eq!(measured.outcome, Outcome::Pass, "{}", measured.device_did);
        for fixed in [[1.0, 1.0, 1.0, 1.0, 1.0], [1.0, 2.0, 3.0, 4.0, 5.0]] {
            let judged = judge(&fixed);
            assert_eq!(judged.outcome, Outcome::Fail, "{}", judged.device_did);
            assert!(judged.device_did.contains("does not grow"));
        }
        assert_eq!(judge(&[1.0, 2.0]).outcome, Outcome::Fail);
    }

    #[test]
    fn delays_count_from_the_end_of_one_attempt_to_the_next() {
        let mut attempts = Attempts::default();
        for _ in 0..WITHHELD {
            assert!(attempts.connect(Instant::now()));
            attempts.ended();
        }
        assert!(!attempts.connect(Instant::now()));
        assert_eq!(attempts.delays.len(), WITHHELD);
    }
}
