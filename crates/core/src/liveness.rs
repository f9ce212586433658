//! Face liveness voters and their fusion (SPEC §6). Each voter is a pure function of
//! measurements the vision crate took from the frames; thresholds live in [`thresholds`].

use serde::{Deserialize, Serialize};

/// Every liveness threshold, in one documented place.
pub mod thresholds {
    /// `passive_liveness`: mean live probability over the frames (model class 0).
    pub const PASSIVE_LIVE_MIN: f32 = 0.5;
    /// `capture_quality`: the face's width as a fraction of the frame's width.
    pub const FACE_WIDTH_FRACTION_MIN: f32 = 0.12;
    /// `capture_quality`: variance of the Laplacian over the face (grey levels²); below is blur.
    pub const SHARPNESS_MIN: f32 = 15.0;
    /// `capture_quality`: mean grey level of the face, 0–255.
    pub const LUMINANCE_MIN: f32 = 40.0;
    pub const LUMINANCE_MAX: f32 = 225.0;
    /// `multi_frame_consistency`: every frame's aligned face appearance against the first
    /// (normalised cross-correlation of the 28×28 grey face, see `FrameMeasure::appearance`).
    /// Within one capture a face stays above 0.99 under every flash tint; two different people's
    /// aligned faces reached at most 0.71 over the 66 pairs of the test photos. This ties every
    /// frame to the one the embedder reads, so a bundle cannot mix the victim's face (matched)
    /// with the attacker's live frames (for the liveness voters).
    pub const SAME_CAPTURE_MIN: f32 = 0.85;
    /// How many frames of a bundle the embedder reads, and the anti-spoof model: the step-up's
    /// latency budget (p50 ≤ 150 ms on 2 cores) pays for one embedding and two anti-spoof runs;
    /// the appearance check covers the other frames.
    pub const EMBEDDED_FRAMES: usize = 1;
    pub const ANTISPOOF_FRAMES: usize = 2;
    /// `capture_quality`: the largest tilt of the face (the line from the eyes to the mouth
    /// against the vertical). SDKs send upright frames; a face lying on its side gets unstable
    /// landmarks from the detector, so neither its appearance nor its alignment can be trusted.
    pub const FACE_TILT_MAX_DEGREES: f32 = 35.0;
    /// `multi_frame_consistency`: largest landmark movement across frames, as a fraction of
    /// the face width. Below: a frozen still. Above: not one steady capture.
    pub const MOTION_MIN: f32 = 0.002;
    pub const MOTION_MAX: f32 = 0.35;
    /// `flash_reflectance`: correlation of the face's colour change with the challenge colours.
    pub const FLASH_CORRELATION_MIN: f32 = 0.5;
    /// `flash_reflectance`: the face's colour must move at least this much (grey levels, RMS).
    pub const FLASH_RESPONSE_MIN: f32 = 1.0;
    /// `flash_reflectance`: samples needed, and distinct colours among them.
    pub const FLASH_SAMPLES_MIN: usize = 3;
    pub const FLASH_COLORS_MIN: usize = 2;
    /// `screen_moire`: the largest spectral peak of the face over the mean at its radius
    /// (kenali_vision::moire). Clean test photos measure at most 7.5 and the same photos under
    /// a display-like grating at least 16.5 (vision tests); not yet calibrated on real replays.
    pub const MOIRE_PEAK_MAX: f32 = 12.0;
}

use thresholds::*;

pub use crate::vote::{color_following, ColorFollowing, Voter};
use crate::vote::{Role, Seat, CAPTURE_QUALITY, FLASH_REFLECTANCE, MULTI_FRAME_CONSISTENCY, SCREEN_MOIRE};

/// The anti-spoof model's voter: live needs it to have run.
pub const PASSIVE_LIVENESS: Seat = Seat::required("passive_liveness", Role::Attack);

/// Every voter of the face liveness judge, with its role (fusion reads only the roles).
pub const VOTERS: [Seat; 5] =
    [CAPTURE_QUALITY, PASSIVE_LIVENESS, MULTI_FRAME_CONSISTENCY, FLASH_REFLECTANCE, SCREEN_MOIRE];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fused {
    Live,
    Spoof,
    Unclear,
}

/// What was measured on one frame.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FrameMeasure {
    pub sha256: String,
    pub width: u32,
    pub faces: usize,
    /// The rest describe the frame's single (or best) face, when there is one.
    pub face_width: f32,
    /// The detector's confidence in the face.
    pub face_score: f32,
    pub sharpness: f32,
    pub luminance: f32,
    pub mean_rgb: [f32; 3],
    pub landmarks: [[f32; 2]; 5],
    /// The face aligned onto the ArcFace template, 28×28 grey, standardised to zero mean and
    /// unit variance: what ties every frame to the same face without running the embedder.
    pub appearance: Vec<f32>,
    /// Empty on the frames the embedder did not read (see [`frames_for_models`]).
    pub embedding: Vec<f32>,
    pub live_probability: Option<f32>,
    /// Spectral peak ratio of the face (screen moiré), when measurable.
    pub moire_ratio: Option<f32>,
}

impl FrameMeasure {
    fn has_face(&self) -> bool {
        self.faces >= 1
    }

    /// Whether the face stands upright: the mouth below the eyes, tilted at most
    /// [`FACE_TILT_MAX_DEGREES`].
    pub fn face_upright(&self) -> bool {
        let [left_eye, right_eye, _, left_mouth, right_mouth] = self.landmarks;
        let down_x = (left_mouth[0] + right_mouth[0] - left_eye[0] - right_eye[0]) / 2.0;
        let down_y = (left_mouth[1] + right_mouth[1] - left_eye[1] - right_eye[1]) / 2.0;
        down_y > 0.0 && down_x.atan2(down_y).abs().to_degrees() <= FACE_TILT_MAX_DEGREES
    }
}

/// One flash sample: which frame was lit by which challenge colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlashSample {
    pub frame_index: usize,
    pub color: [u8; 3],
}

fn frame_problems(f: &FrameMeasure) -> Vec<&'static str> {
    if f.faces == 0 {
        return vec!["no face"];
    }
    if f.faces > 1 {
        return vec!["several faces"];
    }
    let mut problems = Vec::new();
    if !f.face_upright() {
        problems.push("face not upright");
    }
    if f.face_width < FACE_WIDTH_FRACTION_MIN * f.width as f32 {
        problems.push("face too small");
    }
    if f.sharpness < SHARPNESS_MIN {
        problems.push("blurred");
    }
    if f.luminance < LUMINANCE_MIN {
        problems.push("underexposed");
    } else if f.luminance > LUMINANCE_MAX {
        problems.push("overexposed");
    }
    problems
}

pub fn capture_quality(frames: &[FrameMeasure]) -> Voter {
    let per_frame: Vec<Vec<&str>> = frames.iter().map(frame_problems).collect();
    crate::vote::quality_vote(
        &per_frame,
        "one sharp, well-exposed face in every frame",
        crate::vote::FramesNeeded::Every,
    )
}

pub fn passive_liveness(frames: &[FrameMeasure]) -> Option<Voter> {
    let probabilities: Vec<f32> = frames.iter().filter_map(|f| f.live_probability).collect();
    if probabilities.is_empty() {
        return None;
    }
    let mean = probabilities.iter().sum::<f32>() / probabilities.len() as f32;
    let passed = mean >= PASSIVE_LIVE_MIN;
    let reason =
        if passed { "the anti-spoof model sees a live face" } else { "the anti-spoof model sees a presented image" };
    Some(PASSIVE_LIVENESS.vote(passed, reason, Some(mean)))
}

/// Normalised cross-correlation of two standardised appearances (1 = the same picture).
pub fn appearance_similarity(a: &[f32], b: &[f32]) -> f32 {
    if a.is_empty() || a.len() != b.len() {
        return 0.0;
    }
    a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>() / a.len() as f32
}

/// The frames whose face the embedder and the anti-spoof model read, at most `count` of them
/// among the frames with exactly one face: first the face the detector is surest of, then the
/// frames furthest from it in time. (Which flash colour lit the probe matters little: over the
/// palette it moved same-person match scores by at most 0.05, no colour consistently best.)
/// Deterministic, so that a bundle always gets the same decision.
pub fn frames_for_models(frames: &[FrameMeasure], count: usize) -> Vec<usize> {
    let single: Vec<usize> = (0..frames.len()).filter(|&i| frames[i].faces == 1).collect();
    let Some(probe) =
        single.iter().copied().max_by(|&a, &b| frames[a].face_score.total_cmp(&frames[b].face_score).then(b.cmp(&a)))
    else {
        return Vec::new();
    };
    let mut others: Vec<usize> = single.into_iter().filter(|&i| i != probe).collect();
    others.sort_by_key(|&i| (std::cmp::Reverse(i.abs_diff(probe)), i));
    std::iter::once(probe).chain(others).take(count).collect()
}

pub fn multi_frame_consistency(frames: &[FrameMeasure]) -> Option<Voter> {
    let with_face: Vec<&FrameMeasure> = frames.iter().filter(|f| f.has_face() && !f.appearance.is_empty()).collect();
    // A face on its side cannot be aligned reliably: the voter cannot judge it (and
    // capture_quality already fails it, so the capture cannot come out live).
    if with_face.len() < 2 || with_face.iter().any(|f| !f.face_upright()) {
        return None;
    }
    let mut hashes: Vec<&str> = frames.iter().map(|f| f.sha256.as_str()).collect();
    hashes.sort_unstable();
    hashes.dedup();
    if hashes.len() < frames.len() {
        return Some(MULTI_FRAME_CONSISTENCY.vote(false, "frames are byte-identical copies", Some(0.0)));
    }
    let first = with_face[0];
    let least_alike =
        with_face[1..].iter().map(|f| appearance_similarity(&first.appearance, &f.appearance)).fold(f32::MAX, f32::min);
    if least_alike < SAME_CAPTURE_MIN {
        return Some(MULTI_FRAME_CONSISTENCY.vote(false, "the face changes between frames", Some(least_alike)));
    }
    let motion = with_face
        .iter()
        .map(|f| {
            let moved = f
                .landmarks
                .iter()
                .zip(first.landmarks.iter())
                .map(|(a, b)| ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt())
                .fold(0.0, f32::max);
            moved / first.face_width.max(1.0)
        })
        .fold(0.0, f32::max);
    if motion < MOTION_MIN {
        return Some(MULTI_FRAME_CONSISTENCY.vote(false, "no natural motion: a frozen image", Some(motion)));
    }
    if motion > MOTION_MAX {
        return Some(MULTI_FRAME_CONSISTENCY.vote(false, "the face jumps between frames", Some(motion)));
    }
    Some(MULTI_FRAME_CONSISTENCY.vote(true, "one face, natural small motion", Some(least_alike)))
}

/// The face's colour must follow the challenge colours (see [`color_following`]).
pub fn flash_reflectance(frames: &[FrameMeasure], samples: &[FlashSample]) -> Option<Voter> {
    let pairs: Vec<([f32; 3], [u8; 3])> = samples
        .iter()
        .filter_map(|s| frames.get(s.frame_index).filter(|f| f.faces == 1).map(|f| (f.mean_rgb, s.color)))
        .collect();
    let rule = crate::vote::FlashRule {
        surface: "face",
        samples_min: FLASH_SAMPLES_MIN,
        colors_min: FLASH_COLORS_MIN,
        response_min: FLASH_RESPONSE_MIN,
        correlation_min: FLASH_CORRELATION_MIN,
    };
    crate::vote::flash_vote(&pairs, &rule)
}

/// The median peak ratio over the frames: one noisy frame does not decide.
pub fn screen_moire(frames: &[FrameMeasure]) -> Option<Voter> {
    crate::vote::moire_vote(frames.iter().filter_map(|f| f.moire_ratio).collect(), MOIRE_PEAK_MAX, "face")
}

/// Spoof when an [`Role::Attack`] voter failed; unclear when the capture was too poor to judge
/// or the model could not run (a required seat of [`VOTERS`] is empty); live only when every
/// voter that ran passed.
pub fn fuse(voters: &[Voter]) -> Fused {
    use crate::vote::{all_passed, failed, required_ran};
    if failed(voters, Role::Attack).next().is_some() {
        return Fused::Spoof;
    }
    if required_ran(voters, &VOTERS) && all_passed(voters) {
        Fused::Live
    } else {
        Fused::Unclear
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(i: usize, rgb: [f32; 3], shift: f32) -> FrameMeasure {
        FrameMeasure {
            sha256: format!("hash{i}"),
            width: 640,
            faces: 1,
            face_width: 200.0,
            face_score: 0.9,
            sharpness: 80.0,
            luminance: 120.0,
            mean_rgb: rgb,
            landmarks: [
                [90.0 + shift, 90.0],
                [110.0 + shift, 90.0],
                [100.0 + shift, 100.0],
                [92.0 + shift, 110.0],
                [108.0 + shift, 110.0],
            ],
            appearance: vec![1.0, -1.0, 1.0, -1.0],
            embedding: vec![1.0, 0.0],
            live_probability: Some(0.9),
            moire_ratio: Some(5.0),
        }
    }

    const COLORS: [[u8; 3]; 4] = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]];

    #[test]
    fn a_face_that_follows_the_colours_passes_and_a_still_does_not() {
        let lit: Vec<_> = COLORS
            .iter()
            .enumerate()
            .map(|(i, c)| {
                frame(
                    i,
                    [120.0 + f32::from(c[0]) / 20.0, 100.0 + f32::from(c[1]) / 20.0, 90.0 + f32::from(c[2]) / 20.0],
                    i as f32,
                )
            })
            .collect();
        let samples: Vec<_> =
            COLORS.iter().enumerate().map(|(i, c)| FlashSample { frame_index: i, color: *c }).collect();
        let voter = flash_reflectance(&lit, &samples).unwrap_or_else(|| unreachable!());
        assert!(voter.succeeded(), "{voter:?}");
        let still: Vec<_> = (0..4).map(|i| frame(i, [120.0, 100.0, 90.0], 0.0)).collect();
        assert!(!flash_reflectance(&still, &samples).is_some_and(|v| v.succeeded()));
        // Colours that move against the challenge fail.
        let inverted: Vec<_> = COLORS
            .iter()
            .enumerate()
            .map(|(i, c)| {
                frame(
                    i,
                    [120.0 - f32::from(c[0]) / 20.0, 100.0 - f32::from(c[1]) / 20.0, 90.0 - f32::from(c[2]) / 20.0],
                    0.0,
                )
            })
            .collect();
        assert!(!flash_reflectance(&inverted, &samples).is_some_and(|v| v.succeeded()));
        assert!(flash_reflectance(&lit, &[]).is_none());
        assert!(!flash_reflectance(&lit, &samples[..2]).is_some_and(|v| v.succeeded()));
    }

    #[test]
    fn frames_must_be_distinct_the_same_face_and_gently_moving() {
        let moving: Vec<_> = (0..3).map(|i| frame(i, [0.0; 3], i as f32 * 2.0)).collect();
        assert!(multi_frame_consistency(&moving).is_some_and(|v| v.succeeded()));
        let frozen: Vec<_> = (0..3).map(|i| frame(i, [0.0; 3], 0.0)).collect();
        assert!(!multi_frame_consistency(&frozen).is_some_and(|v| v.succeeded()));
        let mut copies = moving.clone();
        copies[2].sha256 = copies[0].sha256.clone();
        assert!(!multi_frame_consistency(&copies).is_some_and(|v| v.succeeded()));
        // Another face in one frame: its appearance gives it away.
        let mut mixed = moving.clone();
        mixed[2].appearance = vec![1.0, 1.0, -1.0, -1.0];
        assert!(!multi_frame_consistency(&mixed).is_some_and(|v| v.succeeded()));
        let mut jumping = moving.clone();
        jumping[2].landmarks.iter_mut().for_each(|point| point[0] += 200.0);
        assert!(!multi_frame_consistency(&jumping).is_some_and(|v| v.succeeded()));
        assert!(multi_frame_consistency(&moving[..1]).is_none());
    }

    #[test]
    fn appearance_thresholds_on_both_sides() {
        let a = [1.0, -1.0, 1.0, -1.0];
        assert!((appearance_similarity(&a, &a) - 1.0).abs() < 1e-6);
        // Three of four values agree: 0.5, below the threshold.
        assert!(appearance_similarity(&a, &[1.0, -1.0, 1.0, 1.0]) < SAME_CAPTURE_MIN);
        assert_eq!(appearance_similarity(&a, &[]), 0.0);
    }

    #[test]
    fn the_surest_face_is_read_first_then_the_furthest() {
        let mut frames: Vec<_> = (0..4).map(|i| frame(i, [0.0; 3], 0.0)).collect();
        frames[1].face_score = 0.95;
        assert_eq!(frames_for_models(&frames, 2), vec![1, 3]);
        assert_eq!(frames_for_models(&frames, 1), vec![1]);
        let mut two_faces = frames.clone();
        two_faces[1].faces = 2;
        assert_eq!(frames_for_models(&two_faces, 4), vec![0, 3, 2]);
        assert!(frames_for_models(&[], 2).is_empty());
        assert!(frames_for_models(&frames, 0).is_empty());
    }

    #[test]
    fn quality_names_each_problem() {
        let good = vec![frame(0, [0.0; 3], 0.0)];
        assert!(capture_quality(&good).succeeded());
        let mut bad = good[0].clone();
        bad.sharpness = 2.0;
        bad.luminance = 10.0;
        let voter = capture_quality(&[bad]);
        assert!(!voter.succeeded());
        assert_eq!(voter.reason, "frame 0: blurred, underexposed (retake: hold still, find more light)");
        let none = FrameMeasure { faces: 0, ..good[0].clone() };
        assert!(!capture_quality(&[none]).succeeded());
        // On its side (the eyes-to-mouth line horizontal), and tilted just past the limit.
        let mut sideways = good[0].clone();
        sideways.landmarks = [[90.0, 110.0], [90.0, 90.0], [100.0, 100.0], [110.0, 108.0], [110.0, 92.0]];
        assert_eq!(
            capture_quality(&[sideways.clone()]).reason,
            "frame 0: face not upright (retake: hold the phone upright)"
        );
        assert!(multi_frame_consistency(&[sideways.clone(), sideways]).is_none());
        let tilt = |degrees: f32| {
            let (sin, cos) = degrees.to_radians().sin_cos();
            let mut f = good[0].clone();
            f.landmarks = [
                [-10.0, 0.0],
                [10.0, 0.0],
                [0.0, 10.0],
                [20.0 * sin - 5.0, 20.0 * cos],
                [20.0 * sin + 5.0, 20.0 * cos],
            ];
            f.face_upright()
        };
        assert!(tilt(FACE_TILT_MAX_DEGREES - 1.0) && tilt(-FACE_TILT_MAX_DEGREES + 1.0));
        assert!(!tilt(FACE_TILT_MAX_DEGREES + 1.0) && !tilt(180.0));
    }

    fn seat(name: &str) -> Seat {
        VOTERS.iter().copied().find(|s| s.name == name).unwrap_or_else(|| unreachable!("{name}"))
    }

    #[test]
    fn fusion_reads_the_role_not_the_name() {
        let model = PASSIVE_LIVENESS.vote(true, "", None);
        let new = |role, passed| Voter::new("a_new_voter", role, passed, "", None);
        assert_eq!(fuse(&[model.clone(), new(Role::Attack, true)]), Fused::Live);
        assert_eq!(fuse(&[model.clone(), new(Role::Attack, false)]), Fused::Spoof);
        assert_eq!(fuse(&[model.clone(), new(Role::Quality, false)]), Fused::Unclear);
        assert_eq!(fuse(&[model.clone(), new(Role::Suspicion, false)]), Fused::Unclear);
        // A known name with another role is judged by the role.
        let quality_named_attack = Voter::new("screen_moire", Role::Quality, false, "", None);
        assert_eq!(fuse(&[model, quality_named_attack]), Fused::Unclear);
        // Without the required model, passing attack voters are not enough.
        assert_eq!(
            fuse(&[new(Role::Attack, true), seat("multi_frame_consistency").vote(true, "", None)]),
            Fused::Unclear
        );
    }

    #[test]
    fn every_voter_the_judge_emits_sits_in_its_table() {
        let frames: Vec<_> = (0..4).map(|i| frame(i, [120.0, 100.0, 90.0], i as f32)).collect();
        let samples: Vec<_> =
            COLORS.iter().enumerate().map(|(i, c)| FlashSample { frame_index: i, color: *c }).collect();
        let mut bad = frames.clone();
        bad.iter_mut().for_each(|f| (f.sharpness, f.moire_ratio) = (0.0, Some(99.0)));
        bad[1].sha256 = bad[0].sha256.clone();
        let mut emitted = Vec::new();
        for (frames, samples) in [(&frames, &samples[..]), (&bad, &samples[..2])] {
            emitted.push(capture_quality(frames));
            emitted.extend(passive_liveness(frames));
            emitted.extend(multi_frame_consistency(frames));
            emitted.extend(flash_reflectance(frames, samples));
            emitted.extend(screen_moire(frames));
        }
        assert_eq!(emitted.len(), 10);
        for voter in &emitted {
            assert_eq!(seat(voter.name).role, voter.role, "{voter:?}");
        }
        for s in VOTERS {
            assert!(emitted.iter().any(|v| v.name == s.name), "{s:?} never emitted");
        }
    }

    #[test]
    fn fusion_is_spoof_on_an_attack_voter_and_live_only_when_all_pass() {
        let pass = |name| seat(name).vote(true, "", None);
        let fail = |name| seat(name).vote(false, "", None);
        assert_eq!(fuse(&[pass("passive_liveness"), pass("capture_quality")]), Fused::Live);
        assert_eq!(fuse(&[fail("passive_liveness"), pass("capture_quality")]), Fused::Spoof);
        assert_eq!(fuse(&[pass("passive_liveness"), fail("flash_reflectance")]), Fused::Spoof);
        assert_eq!(fuse(&[pass("passive_liveness"), fail("capture_quality")]), Fused::Unclear);
        assert_eq!(fuse(&[pass("capture_quality")]), Fused::Unclear);
    }

    #[test]
    fn a_display_pattern_on_most_frames_fails_screen_moire() {
        let mut frames: Vec<_> = (0..3).map(|i| frame(i, [0.0; 3], 0.0)).collect();
        assert!(screen_moire(&frames).is_some_and(|v| v.succeeded()));
        frames[0].moire_ratio = Some(30.0);
        assert!(screen_moire(&frames).is_some_and(|v| v.succeeded()), "one noisy frame does not decide");
        frames[1].moire_ratio = Some(25.0);
        assert!(screen_moire(&frames).is_some_and(|v| !v.succeeded()));
        frames.iter_mut().for_each(|f| f.moire_ratio = None);
        assert!(screen_moire(&frames).is_none());
    }

    #[test]
    fn passive_liveness_averages_the_model() {
        let mut frames = vec![frame(0, [0.0; 3], 0.0), frame(1, [0.0; 3], 0.0)];
        frames[1].live_probability = Some(0.0);
        let voter = passive_liveness(&frames).unwrap_or_else(|| unreachable!());
        assert!((voter.score.unwrap_or_default() - 0.45).abs() < 1e-6);
        assert!(!voter.succeeded());
        frames.iter_mut().for_each(|f| f.live_probability = None);
        assert!(passive_liveness(&frames).is_none());
    }
}
