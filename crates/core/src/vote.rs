//! The voting vocabulary shared by the face liveness judge ([`crate::liveness`]) and the KTP
//! judge ([`crate::document`]). Every voter carries a [`Role`], decided once in its judge's
//! table of [`Seat`]s; the fusion rules read roles, never voter names. The voters both judges
//! run over their own measurements (capture quality, the flash challenge, a display's moiré)
//! are written here once, each judge passing its own inputs and thresholds.

use serde::{Deserialize, Serialize};

/// What a voter's verdict means to fusion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The capture was good enough to judge: the frames (a sharp, well-exposed face or card)
    /// or what was read off them (`field_format`: every field in its KTP format). Failing leaves
    /// the check unclear, never decides it.
    Quality,
    /// Evidence of a presentation attack (print, screen, replay). Failing makes the capture a
    /// spoof.
    Attack,
    /// The content contradicts itself or the claims (tampering). Failing makes the card
    /// tampered.
    Contradiction,
    /// A doubt about the content that an analyst must weigh but that proves nothing alone: a
    /// layout or type off the template, a hologram that does not shimmer, a card of another NIK
    /// than the customer's. Failing leaves the check unclear. (None of the three roles above
    /// fits these KTP voters: they judge a readable capture, and their failure must not decide.)
    Suspicion,
}

/// One voter's verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Voter {
    pub name: &'static str,
    pub role: Role,
    /// `None` when the voter abstained: the capture gave it no chance to judge (its reason says
    /// why). Fusion counts an abstaining voter as absent, never as a failure.
    pub passed: Option<bool>,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f32>,
}

impl Voter {
    pub(crate) fn new(
        name: &'static str,
        role: Role,
        passed: bool,
        reason: impl Into<String>,
        score: Option<f32>,
    ) -> Self {
        Self { name, role, passed: Some(passed), reason: reason.into(), score }
    }

    /// Whether the voter judged (passed or failed) rather than abstained.
    pub fn judged(&self) -> bool {
        self.passed.is_some()
    }

    pub fn succeeded(&self) -> bool {
        self.passed == Some(true)
    }

    pub fn failed(&self) -> bool {
        self.passed == Some(false)
    }
}

/// A voter's place in a judge's table: its name, its role, and whether fusion needs it to have
/// run before it gives a positive verdict. Voters are made from their seat (`Seat::vote`), so
/// adding a voter touches one table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seat {
    pub name: &'static str,
    pub role: Role,
    pub required: bool,
}

impl Seat {
    pub const fn new(name: &'static str, role: Role) -> Self {
        Self { name, role, required: false }
    }

    /// A seat fusion needs filled before it gives a positive verdict (live, authentic).
    pub const fn required(name: &'static str, role: Role) -> Self {
        Self { name, role, required: true }
    }

    pub(crate) fn vote(&self, passed: bool, reason: impl Into<String>, score: Option<f32>) -> Voter {
        Voter::new(self.name, self.role, passed, reason, score)
    }

    /// The seat's voter abstaining: it could not judge this capture, for `reason`.
    pub(crate) fn abstain(&self, reason: impl Into<String>, score: Option<f32>) -> Voter {
        Voter { passed: None, ..self.vote(false, reason, score) }
    }
}

/// The seats both judges fill, each over its own measurements.
pub const CAPTURE_QUALITY: Seat = Seat::new("capture_quality", Role::Quality);
pub const FLASH_REFLECTANCE: Seat = Seat::new("flash_reflectance", Role::Attack);
pub const SCREEN_MOIRE: Seat = Seat::new("screen_moire", Role::Attack);
pub const MULTI_FRAME_CONSISTENCY: Seat = Seat::new("multi_frame_consistency", Role::Attack);

/// The voters of `role` that failed.
pub fn failed(voters: &[Voter], role: Role) -> impl Iterator<Item = &Voter> {
    voters.iter().filter(move |v| v.role == role && v.failed())
}

/// How many voters of `role` judged (an abstaining voter did not).
pub fn ran(voters: &[Voter], role: Role) -> usize {
    voters.iter().filter(|v| v.role == role && v.judged()).count()
}

/// Whether no voter failed (abstaining voters are absent, not failures).
pub fn all_passed(voters: &[Voter]) -> bool {
    !voters.iter().any(Voter::failed)
}

/// Whether every required seat of the judge's `table` has a voter among `voters` that judged.
pub fn required_ran(voters: &[Voter], table: &[Seat]) -> bool {
    table.iter().filter(|s| s.required).all(|s| voters.iter().any(|v| v.name == s.name && v.judged()))
}

/// How many frames `capture_quality` needs good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FramesNeeded {
    /// Every frame (liveness: each frame is a probe and a motion sample).
    Every,
    /// The best frame (a card is read from its best frame; the other voters need the rest
    /// only to see the card).
    Best,
}

/// What the person capturing can do about a frame problem, for the SDK's retake prompt.
fn fix_for(problem: &str) -> &'static str {
    match problem {
        "blurred" => "hold still",
        "face too small" | "card too small in the frame" => "move closer",
        "glare" => "tilt away from the light to avoid glare",
        "underexposed" => "find more light",
        "overexposed" => "avoid strong light behind or on the subject",
        "face not upright" => "hold the phone upright",
        "several faces" => "only one face in view",
        "no card" => "keep the whole card inside the guide",
        _ => "keep the face inside the guide",
    }
}

/// `capture_quality` from each frame's problems (empty: a good frame). Passes when the frames
/// `needed` are good; otherwise names each problem frame by frame, then what to fix.
pub(crate) fn quality_vote(per_frame: &[Vec<&str>], ok_reason: &str, needed: FramesNeeded) -> Voter {
    let good = per_frame.iter().filter(|p| p.is_empty()).count();
    let score = Some(good as f32 / per_frame.len().max(1) as f32);
    let enough = match needed {
        FramesNeeded::Every => good == per_frame.len(),
        FramesNeeded::Best => good > 0,
    };
    if enough && !per_frame.is_empty() {
        return CAPTURE_QUALITY.vote(true, ok_reason, score);
    }
    let problems = per_frame
        .iter()
        .enumerate()
        .filter(|(_, p)| !p.is_empty())
        .map(|(i, p)| format!("frame {i}: {}", p.join(", ")))
        .collect::<Vec<_>>()
        .join("; ");
    // What to fix, each once, in the order the frames first show it.
    let mut fixes: Vec<&str> = Vec::new();
    for fix in per_frame.iter().flatten().map(|p| fix_for(p)) {
        if !fixes.contains(&fix) {
            fixes.push(fix);
        }
    }
    let reason = if fixes.is_empty() { problems } else { format!("{problems} (retake: {})", fixes.join(", ")) };
    CAPTURE_QUALITY.vote(false, reason, score)
}

/// How a surface's mean colour followed the challenge colours across the flash samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ColorFollowing {
    /// RMS movement of the surface's colour (grey levels).
    pub response: f32,
    /// Pearson correlation of the surface's colour deviations with the challenge colours'.
    pub correlation: f32,
}

/// `pairs` are (the surface's mean RGB in a frame, the colour that lit it).
pub fn color_following(pairs: &[([f32; 3], [u8; 3])]) -> ColorFollowing {
    let n = pairs.len().max(1) as f32;
    let mut mean_surface = [0f32; 3];
    let mut mean_color = [0f32; 3];
    for (rgb, c) in pairs {
        for k in 0..3 {
            mean_surface[k] += rgb[k] / n;
            mean_color[k] += f32::from(c[k]) / n;
        }
    }
    let (mut cov, mut var_surface, mut var_color) = (0f32, 0f32, 0f32);
    for (rgb, c) in pairs {
        for k in 0..3 {
            let d = rgb[k] - mean_surface[k];
            let e = f32::from(c[k]) - mean_color[k];
            cov += d * e;
            var_surface += d * d;
            var_color += e * e;
        }
    }
    ColorFollowing {
        response: (var_surface / (3.0 * n)).sqrt(),
        correlation: cov / (var_surface.sqrt() * var_color.sqrt()).max(f32::EPSILON),
    }
}

/// Distinct colours among the samples.
fn distinct_colors(pairs: &[([f32; 3], [u8; 3])]) -> usize {
    let mut colors: Vec<[u8; 3]> = pairs.iter().map(|(_, c)| *c).collect();
    colors.sort_unstable();
    colors.dedup();
    colors.len()
}

/// A judge's thresholds for `flash_reflectance`, and what its surface is called in reasons.
pub(crate) struct FlashRule {
    pub surface: &'static str,
    pub samples_min: usize,
    pub colors_min: usize,
    pub response_min: f32,
    pub correlation_min: f32,
}

/// `flash_reflectance` over (the surface's mean RGB, the colour that lit it) pairs: absent
/// without a pair; failed with too few samples or colours, with a surface whose colour does not
/// move, or one that moves against the challenge.
pub(crate) fn flash_vote(pairs: &[([f32; 3], [u8; 3])], rule: &FlashRule) -> Option<Voter> {
    if pairs.is_empty() {
        return None;
    }
    if pairs.len() < rule.samples_min || distinct_colors(pairs) < rule.colors_min {
        return Some(FLASH_REFLECTANCE.vote(false, "too few flash samples to test the challenge", None));
    }
    let surface = rule.surface;
    let fit = color_following(pairs);
    if fit.response < rule.response_min {
        let reason = format!("the {surface} does not reflect the challenge colours");
        return Some(FLASH_REFLECTANCE.vote(false, reason, Some(0.0)));
    }
    let passed = fit.correlation >= rule.correlation_min;
    let reason = if passed {
        format!("the {surface} reflects the challenge colours")
    } else {
        format!("the {surface}'s colour does not follow the challenge")
    };
    Some(FLASH_REFLECTANCE.vote(passed, reason, Some(fit.correlation)))
}

/// `screen_moire`: the median of the frames' spectral peak ratios (one noisy frame does not
/// decide) against `max`; absent when no frame could be measured.
pub(crate) fn moire_vote(mut ratios: Vec<f32>, max: f32, surface: &str) -> Option<Voter> {
    if ratios.is_empty() {
        return None;
    }
    ratios.sort_by(f32::total_cmp);
    let median = ratios[ratios.len() / 2];
    let passed = median <= max;
    let reason = if passed {
        format!("no display pattern on the {surface}")
    } else {
        format!("a periodic display pattern covers the {surface}")
    };
    Some(SCREEN_MOIRE.vote(passed, reason, Some(median)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn voter(name: &'static str, role: Role, passed: bool) -> Voter {
        Voter::new(name, role, passed, "", None)
    }

    #[test]
    fn helpers_read_roles_not_names() {
        let voters = [
            voter("a", Role::Attack, false),
            voter("b", Role::Attack, true),
            voter("capture_quality", Role::Contradiction, false),
        ];
        assert_eq!(failed(&voters, Role::Attack).map(|v| v.name).collect::<Vec<_>>(), ["a"]);
        assert_eq!(ran(&voters, Role::Attack), 2);
        assert_eq!(ran(&voters, Role::Quality), 0);
        assert_eq!(failed(&voters, Role::Quality).count(), 0);
        assert!(!all_passed(&voters) && all_passed(&voters[1..2]));
        let table = [Seat::required("b", Role::Attack), Seat::new("c", Role::Quality)];
        assert!(required_ran(&voters, &table));
        assert!(!required_ran(&voters[..1], &table));
    }

    #[test]
    fn an_abstaining_voter_is_absent_not_failed() {
        let abstained = FLASH_REFLECTANCE.abstain("no chance to judge", None);
        assert!(!abstained.judged() && !abstained.failed() && !abstained.succeeded());
        let voters = [voter("a", Role::Attack, true), abstained.clone()];
        assert_eq!(failed(&voters, Role::Attack).count(), 0);
        assert_eq!(ran(&voters, Role::Attack), 1, "an abstention does not count as a check made");
        assert!(all_passed(&voters));
        assert!(!required_ran(&voters, &[Seat::required("flash_reflectance", Role::Attack)]));
        let json = serde_json::to_value(&abstained).unwrap_or_default();
        assert_eq!((json["passed"].is_null(), json["reason"].as_str()), (true, Some("no chance to judge")));
    }

    #[test]
    fn a_voter_serialises_its_role_in_lower_case() {
        let json = serde_json::to_value(voter("screen_moire", Role::Attack, true)).unwrap_or_default();
        assert_eq!(json, serde_json::json!({"name": "screen_moire", "role": "attack", "passed": true, "reason": ""}));
        let json = serde_json::to_value(Voter::new("x", Role::Suspicion, false, "r", Some(0.5))).unwrap_or_default();
        assert_eq!((json["role"].as_str(), json["score"].as_f64()), (Some("suspicion"), Some(0.5)));
    }

    #[test]
    fn no_frames_fails_quality_and_no_ratio_gives_no_moire_vote() {
        let voter = quality_vote(&[], "ok", FramesNeeded::Every);
        assert_eq!((voter.passed, voter.reason.as_str(), voter.score), (Some(false), "", Some(0.0)));
        assert!(moire_vote(Vec::new(), 1.0, "face").is_none());
        let rule =
            FlashRule { surface: "card", samples_min: 3, colors_min: 2, response_min: 1.0, correlation_min: 0.5 };
        assert!(flash_vote(&[], &rule).is_none());
        let same = [([1.0; 3], [255, 0, 0]); 4];
        let voter = flash_vote(&same, &rule).unwrap_or_else(|| unreachable!());
        assert_eq!((voter.passed, voter.reason.as_str()), (Some(false), "too few flash samples to test the challenge"));
    }
}
