use super::*;

fn colors(list: &[&str]) -> Vec<String> {
    list.iter().map(|c| c.to_string()).collect()
}

fn decode(bytes: &[u8]) -> RgbImage {
    image::load_from_memory_with_format(bytes, image::ImageFormat::Jpeg).unwrap().to_rgb8()
}

/// Mean red minus mean blue over the middle of the frame, on the card in any style.
fn red_over_blue(frame: &RgbImage) -> f32 {
    let middle = imageops::crop_imm(frame, 560, 320, 160, 80).to_image();
    middle.pixels().map(|p| f32::from(p[0]) - f32::from(p[2])).sum::<f32>() / (160.0 * 80.0)
}

#[test]
fn every_font_is_installed() {
    for font in ALL_FONTS {
        font.load();
    }
}

#[test]
fn styles_and_their_bytes_are_deterministic_per_seed() {
    for family in Family::ALL {
        assert_eq!(CardStyle::draw(family, 11), CardStyle::draw(family, 11));
        assert_eq!(SceneStyle::draw(family, 11), SceneStyle::draw(family, 11));
        assert_ne!(CardStyle::draw(family, 11), CardStyle::draw(family, 12));
        let fields = KtpFields::sample(3);
        let style = CardStyle::draw(family, 11);
        let card = render_card_styled(&fields, "faces/obama_1.jpg", &style);
        assert_eq!(card.dimensions(), (CARD_WIDTH, CARD_HEIGHT));
        assert_eq!(card, render_card_styled(&fields, "faces/obama_1.jpg", &style));
        let scene = SceneStyle::draw(family, 11);
        let steps = colors(&["#FF0000", "#0000FF"]);
        let frames = capture_frames_styled(&card, &steps, Presentation::Original, &scene, 4);
        assert_eq!(frames, capture_frames_styled(&card, &steps, Presentation::Original, &scene, 4));
    }
}

/// The smallest and largest of `values`.
fn range(values: impl Iterator<Item = f32>) -> (f32, f32) {
    values.fold((f32::MAX, f32::MIN), |(low, high), v| (low.min(v), high.max(v)))
}

/// Calibration's values of one axis lie wholly below HeldOut's (or above).
fn disjoint(axis: &str, calibration: (f32, f32), held_out: (f32, f32)) {
    assert!(
        calibration.1 < held_out.0 || held_out.1 < calibration.0,
        "{axis}: calibration {calibration:?} and held-out {held_out:?} overlap"
    );
}

/// Sets of values (several per family) share none.
fn no_common<T: PartialEq + std::fmt::Debug>(axis: &str, calibration: &[T], held_out: &[T]) {
    for value in calibration {
        assert!(!held_out.contains(value), "{axis}: {value:?} in both families");
    }
}

#[test]
fn the_families_share_no_value_on_any_axis() {
    use nominal as n;
    type Styles = Vec<(CardStyle, SceneStyle)>;
    let draws = |family| (0..200u64).map(|s| (CardStyle::draw(family, s), SceneStyle::draw(family, s))).collect();
    let (calibration, held_out): (Styles, Styles) = (draws(Family::Calibration), draws(Family::HeldOut));
    type CardAxis = (&'static str, fn(&CardStyle) -> f32);
    let card_axes: [CardAxis; 17] = [
        ("header size", |c| (c.header_size - n::HEADER_SIZE).abs()),
        ("header top", |c| (c.header_top - n::HEADER_TOP).abs()),
        ("label x", |c| (c.label_x - n::LABEL_X).abs()),
        ("colon x", |c| (c.colon_x - n::COLON_X).abs()),
        ("value x", |c| (c.value_x - c.colon_x - n::VALUE_GAP).abs()),
        ("first row y", |c| (c.first_row_y - n::FIRST_ROW_Y).abs()),
        ("row pitch", |c| (c.row_pitch - n::ROW_PITCH).abs()),
        ("row size", |c| (c.row_size - n::ROW_SIZE).abs()),
        ("NIK x", |c| (c.nik_left - c.colon_x - n::NIK_GAP).abs()),
        ("NIK y", |c| (c.nik_top - n::NIK_TOP).abs()),
        ("NIK size", |c| (c.nik_size - n::NIK_SIZE).abs()),
        ("portrait size", |c| (c.portrait.width / n::PORTRAIT[2] - 1.0).abs()),
        ("portrait x", |c| (c.portrait.left + c.portrait.width / 2.0 - n::PORTRAIT[0] - n::PORTRAIT[2] / 2.0).abs()),
        ("portrait y", |c| (c.portrait.top + c.portrait.height / 2.0 - n::PORTRAIT[1] - n::PORTRAIT[3] / 2.0).abs()),
        ("portrait crop", |c| (c.portrait.crop - 1.0).abs()),
        ("paper tint", |c| c.tint_shift()),
        ("guilloche", |c| (c.paper.guilloche - n::GUILLOCHE).abs()),
    ];
    for (axis, measure) in card_axes {
        let of = |draws: &[(CardStyle, SceneStyle)]| range(draws.iter().map(|(c, _)| measure(c)));
        disjoint(axis, of(&calibration), of(&held_out));
    }
    let of =
        |draws: &[(CardStyle, SceneStyle)]| range(draws.iter().map(|(c, _)| (c.paper.guilloche_period - 1.0).abs()));
    disjoint("guilloche period", of(&calibration), of(&held_out));
    let faces = |draws: &[(CardStyle, SceneStyle)], pick: fn(&CardStyle) -> FontFile| {
        draws.iter().map(|(c, _)| pick(c)).collect::<Vec<_>>()
    };
    no_common("text face", &faces(&calibration, |c| c.regular), &faces(&held_out, |c| c.regular));
    no_common("bold face", &faces(&calibration, |c| c.bold), &faces(&held_out, |c| c.bold));
    no_common("NIK face", &faces(&calibration, |c| c.nik_face), &faces(&held_out, |c| c.nik_face));
    assert!(faces(&held_out, |c| c.nik_face).contains(&OCR_A));
    let frames =
        |draws: &[(CardStyle, SceneStyle)]| draws.iter().map(|(c, _)| c.portrait.frame.is_some()).collect::<Vec<_>>();
    no_common("portrait frame", &frames(&calibration), &frames(&held_out));
    for typeface in [ForgedTypeface::SerifBold, ForgedTypeface::MonoBold] {
        no_common(
            "forged face",
            &calibration.iter().map(|(c, _)| forged_face(c, typeface)).collect::<Vec<_>>(),
            &held_out.iter().map(|(c, _)| forged_face(c, typeface)).collect::<Vec<_>>(),
        );
    }

    type SceneAxis = (&'static str, fn(&SceneStyle) -> f32);
    let scene_axes: [SceneAxis; 16] = [
        ("exposure", |s| (s.exposure - n::EXPOSURE).abs()),
        ("vignette", |s| s.vignette),
        ("noise", |s| s.noise_sigma),
        ("blur", |s| s.blur),
        ("JPEG quality", |s| -f32::from(s.jpeg_quality)),
        ("turn", |s| s.angle.abs()),
        ("yaw", |s| s.yaw.abs()),
        ("pitch", |s| s.pitch.abs()),
        ("card flash", |s| (s.card_flash - n::CARD_FLASH).abs()),
        ("copy lift", |s| (s.copy.lift - n::COPY_LIFT).abs()),
        ("copy gain", |s| (s.copy.gain - n::COPY_GAIN).abs()),
        ("copy warmth", |s| (s.copy.warmth - 1.0).abs()),
        ("copy flash", |s| (s.copy.flash - n::COPY_FLASH).abs()),
        ("moiré period", |s| (s.replay.period - n::MOIRE_PERIOD).abs()),
        ("moiré angle", |s| (s.replay.angle - n::MOIRE_ANGLE).abs()),
        ("moiré amplitude", |s| (s.replay.amplitude - n::MOIRE_AMPLITUDE).abs()),
    ];
    for (axis, measure) in scene_axes {
        let of = |draws: &[(CardStyle, SceneStyle)]| range(draws.iter().map(|(_, s)| measure(s)));
        disjoint(axis, of(&calibration), of(&held_out));
    }
    // Held-out bands on either side of Calibration's.
    let two_sided: [SceneAxis; 2] = [("temperature", |s| s.temperature), ("card scale", |s| s.card_scale)];
    for (axis, measure) in two_sided {
        let (low, high) = range(calibration.iter().map(|(_, s)| measure(s)));
        for (_, scene) in &held_out {
            let value = measure(scene);
            assert!(value < low || value > high, "{axis}: held-out {value} within calibration's {low}–{high}");
        }
    }
    let glossy = |draws: &[(CardStyle, SceneStyle)]| {
        draws
            .iter()
            .filter_map(|(_, s)| match s.laminate {
                Laminate::Glossy { path, strength, size } => Some((path, strength, size)),
                Laminate::Matte => None,
            })
            .collect::<Vec<_>>()
    };
    let (cal_glossy, held_glossy) = (glossy(&calibration), glossy(&held_out));
    assert_eq!(cal_glossy.len(), 200, "every calibration laminate is glossy");
    assert!(held_glossy.len() < 180 && held_glossy.len() > 100, "about a third of held-out cards are matte");
    no_common(
        "glint path",
        &cal_glossy.iter().map(|g| g.0).collect::<Vec<_>>(),
        &held_glossy.iter().map(|g| g.0).collect::<Vec<_>>(),
    );
    let strength = |g: &[(GlintPath, f32, f32)]| range(g.iter().map(|g| (g.1 - n::GLINT_STRENGTH).abs()));
    disjoint("glint strength", strength(&cal_glossy), strength(&held_glossy));
    let size = |g: &[(GlintPath, f32, f32)]| range(g.iter().map(|g| (g.2 - 1.0).abs()));
    disjoint("glint size", size(&cal_glossy), size(&held_glossy));
    let foils = |draws: &[(CardStyle, SceneStyle)]| draws.iter().filter_map(|(_, s)| s.foil).collect::<Vec<_>>();
    let (cal_foils, held_foils) = (foils(&calibration), foils(&held_out));
    assert_eq!(cal_foils.len(), 200, "every calibration card shows its foil");
    assert!(held_foils.len() < 180 && held_foils.len() > 120, "about a quarter of held-out foils are not seen");
    no_common(
        "foil pattern",
        &cal_foils.iter().map(|f| f.pattern).collect::<Vec<_>>(),
        &held_foils.iter().map(|f| f.pattern).collect::<Vec<_>>(),
    );
    type FoilAxis = (&'static str, fn(&Foil) -> f32);
    let foil_axes: [FoilAxis; 5] = [
        ("foil x", |f| (f.center.0 - FOIL_CENTER.0).abs()),
        ("foil y", |f| (f.center.1 - FOIL_CENTER.1).abs()),
        ("foil radius", |f| (f.radius - FOIL_RADIUS).abs()),
        ("foil opacity", |f| (f.opacity - n::FOIL_OPACITY).abs()),
        ("foil turn", |f| (f.turn - n::FOIL_TURN).abs()),
    ];
    for (axis, measure) in foil_axes {
        disjoint(axis, range(cal_foils.iter().map(measure)), range(held_foils.iter().map(measure)));
    }
    let backgrounds = |draws: &[(CardStyle, SceneStyle)]| draws.iter().map(|(_, s)| s.background).collect::<Vec<_>>();
    no_common("background", &backgrounds(&calibration), &backgrounds(&held_out));
}

#[test]
fn a_styled_genuine_card_moves_between_frames_and_reflects_the_flash() {
    for (family, seed) in [(Family::Calibration, 21), (Family::HeldOut, 22), (Family::HeldOut, 23)] {
        let style = CardStyle::draw(family, seed);
        let card = render_card_styled(&KtpFields::sample(seed), "faces/biden_2.jpg", &style);
        let scene = SceneStyle::draw(family, seed);
        let steps = colors(&["#FF0000", "#0000FF", "#FF0000"]);
        let frames = capture_frames_styled(&card, &steps, Presentation::Original, &scene, seed);
        assert_eq!(frames.len(), 3);
        assert!(frames.windows(2).all(|pair| pair[0] != pair[1]), "{family:?}");
        let decoded: Vec<RgbImage> = frames.iter().map(|f| decode(f)).collect();
        assert!(decoded.iter().all(|f| f.dimensions() == (FRAME_WIDTH, FRAME_HEIGHT)));
        let shift = red_over_blue(&decoded[0]) - red_over_blue(&decoded[1]);
        assert!(shift > 40.0, "{family:?} seed {seed}: red over blue moves {shift} between red and blue flashes");
        // A replay of the same card shows no flash at all.
        let replay = capture_frames_styled(&card, &steps, Presentation::ScreenReplay, &scene, seed);
        assert_ne!(replay[0], replay[2]);
        let replayed = red_over_blue(&decode(&replay[0])) - red_over_blue(&decode(&replay[1]));
        assert!(replayed.abs() < 3.0, "{family:?}: replay {replayed}");
    }
}

#[test]
fn styled_attacks_change_the_card_where_they_should() {
    for family in Family::ALL {
        let (fields, style) = (KtpFields::sample(31), CardStyle::draw(family, 31));
        let card = render_card_styled(&fields, "faces/obama_2.jpg", &style);
        let pasted = render_card_styled_with_pasted_portrait(&fields, "faces/obama_2.jpg", "faces/biden_2.jpg", &style);
        let retyped =
            render_card_styled_with_retyped_nik(&fields, "faces/obama_2.jpg", &style, ForgedTypeface::MonoBold);
        let differs = |other: &RgbImage, x: std::ops::Range<u32>, y: std::ops::Range<u32>| {
            y.clone()
                .flat_map(|y| x.clone().map(move |x| (x, y)))
                .filter(|&(x, y)| card.get_pixel(x, y) != other.get_pixel(x, y))
                .count()
        };
        let p = style.portrait;
        let (left, top) = (p.left as u32, p.top as u32);
        assert!(differs(&pasted, left..left + p.width as u32, top..top + p.height as u32) > 10_000, "{family:?}");
        assert_eq!(differs(&pasted, 0..500, 0..CARD_HEIGHT), 0, "{family:?}: pasted left the fields alone");
        let (nik_x, nik_y) = (style.nik_left as u32, style.nik_top as u32);
        assert!(differs(&retyped, nik_x..nik_x + 300, nik_y..nik_y + 40) > 500, "{family:?}");
        assert_eq!(differs(&retyped, 0..CARD_WIDTH, nik_y + 60..CARD_HEIGHT), 0, "{family:?}: only the NIK changed");
    }
}
