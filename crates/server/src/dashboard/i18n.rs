//! The dashboard's words in English and Bahasa Indonesia. Every message is a variant, so a page
//! cannot name one that lacks a translation.

use axum::http::HeaderMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Id,
}

/// The cookie that keeps a person's choice of language.
pub const LANG_COOKIE: &str = "kenali_lang";

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Id => "id",
        }
    }

    pub fn parse(code: &str) -> Option<Lang> {
        match code {
            "en" => Some(Lang::En),
            "id" => Some(Lang::Id),
            _ => None,
        }
    }

    /// The other language, for the switch in the header.
    pub fn other(self) -> Lang {
        match self {
            Lang::En => Lang::Id,
            Lang::Id => Lang::En,
        }
    }

    /// The person's choice (the cookie), else the browser's first preference among the two,
    /// else English.
    pub fn of_request(headers: &HeaderMap) -> Lang {
        if let Some(lang) = crate::extract::cookie(headers, LANG_COOKIE).and_then(Lang::parse) {
            return lang;
        }
        let accepted = headers.get(axum::http::header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).unwrap_or("");
        accepted
            .split(',')
            .filter_map(|part| part.split(';').next())
            .map(|tag| tag.trim().to_ascii_lowercase())
            .find_map(|tag| Lang::parse(tag.split('-').next().unwrap_or("")))
            .unwrap_or(Lang::En)
    }
}

macro_rules! messages {
    ($($name:ident => $en:literal, $id:literal;)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Msg { $($name),* }

        impl Msg {
            pub fn text(self, lang: Lang) -> &'static str {
                match (self, lang) {
                    $((Msg::$name, Lang::En) => $en, (Msg::$name, Lang::Id) => $id,)*
                }
            }
        }
    };
}

messages! {
    SkipToContent => "Skip to content", "Langsung ke konten";
    ReviewQueue => "Review queue", "Antrean tinjauan";
    AuditLog => "Audit log", "Log audit";
    Passkeys => "Passkeys", "Passkey";
    SignIn => "Sign in", "Masuk";
    SignOut => "Sign out", "Keluar";
    Email => "Email", "Email";
    Password => "Password", "Kata sandi";
    Organization => "Organization (only if your email has accounts in several)", "Organisasi (hanya jika email Anda terdaftar di beberapa)";
    SignInWithPasskey => "Sign in with a passkey", "Masuk dengan passkey";
    Or => "or", "atau";
    PasskeyUnsupported => "This browser cannot use passkeys.", "Peramban ini tidak mendukung passkey.";
    PasskeyFailed => "The passkey was not accepted. Try again, or sign in with your password.", "Passkey tidak diterima. Coba lagi, atau masuk dengan kata sandi.";
    Open => "Open", "Terbuka";
    Approved => "Approved", "Disetujui";
    Rejected => "Rejected", "Ditolak";
    Opened => "Opened", "Dibuka";
    Kind => "Kind", "Jenis";
    Customer => "Customer", "Nasabah";
    Reasons => "Reasons", "Alasan";
    Status => "Status", "Status";
    Actions => "Actions", "Tindakan";
    View => "View", "Lihat";
    NothingHere => "Nothing here.", "Tidak ada data.";
    NextPage => "Next page", "Halaman berikutnya";
    ReviewItem => "Review item", "Item tinjauan";
    Frames => "Frames", "Bingkai";
    NoFrames => "No frames are kept (the customer was erased, or none were stored).", "Tidak ada bingkai tersimpan (nasabah telah dihapus, atau tidak ada yang disimpan).";
    Frame => "Frame", "Bingkai";
    CardAndClaims => "The card beside the customer's claims", "Kartu dibandingkan dengan data nasabah";
    Field => "Field", "Kolom";
    ReadOffCard => "Read off the card", "Terbaca dari kartu";
    Confidence => "Confidence", "Keyakinan";
    Claimed => "Claimed", "Data nasabah";
    Differs => "differs", "berbeda";
    Erased => "The customer was erased: claims, reading and frames are gone.", "Nasabah telah dihapus: data, hasil baca, dan bingkai sudah tidak ada.";
    Voters => "Voters", "Pemeriksa";
    Check => "Check", "Pemeriksaan";
    Voter => "Voter", "Pemeriksa";
    Role => "Role", "Peran";
    Verdict => "Verdict", "Hasil";
    Measure => "Measure", "Ukuran";
    Threshold => "Passes at", "Lolos pada";
    Reason => "Reason", "Alasan";
    Passed => "passed", "lolos";
    Failed => "failed", "gagal";
    Abstained => "abstained", "abstain";
    Decision => "Decision", "Keputusan";
    Approve => "Approve", "Setujui";
    Reject => "Reject", "Tolak";
    DecisionReason => "Reason (required; kept in the audit log)", "Alasan (wajib; disimpan di log audit)";
    Submit => "Record the decision", "Simpan keputusan";
    DecidedBy => "Decided by", "Diputuskan oleh";
    DecidedAt => "Decided at", "Diputuskan pada";
    CaptureVerdict => "Capture verdict", "Hasil pengambilan";
    Assurance => "Assurance", "Tingkat jaminan";
    Action => "Action", "Tindakan";
    Actor => "Actor", "Pelaku";
    Target => "Target", "Sasaran";
    Since => "From", "Dari";
    Until => "To", "Sampai";
    Filter => "Filter", "Saring";
    Time => "Time", "Waktu";
    Details => "Details", "Rincian";
    VerifyChain => "Verify chain", "Verifikasi rantai";
    ChainIntact => "The audit chain is intact", "Rantai audit utuh";
    ChainBroken => "The audit chain is broken", "Rantai audit rusak";
    Entries => "entries", "entri";
    YourPasskeys => "Your passkeys", "Passkey Anda";
    AddPasskey => "Add a passkey", "Tambah passkey";
    PasskeyName => "Name (e.g. work laptop)", "Nama (mis. laptop kantor)";
    Remove => "Remove", "Hapus";
    Created => "Created", "Dibuat";
    LastUsed => "Last used", "Terakhir dipakai";
    Never => "never", "belum pernah";
    EnrollFirst => "Register a passkey to continue: your organization signs in with passkeys.", "Daftarkan passkey untuk melanjutkan: organisasi Anda masuk dengan passkey.";
    Enroll => "Set up your passkey", "Siapkan passkey Anda";
    EnrollIntro => "This one-time link registers a passkey on this device for your Kenali account.", "Tautan sekali pakai ini mendaftarkan passkey di perangkat ini untuk akun Kenali Anda.";
    EnrollDone => "Your passkey is registered. Sign in with it now.", "Passkey Anda sudah terdaftar. Silakan masuk dengannya.";
    EnrollFailed => "This link could not be used: it may have expired or been used already.", "Tautan ini tidak dapat dipakai: mungkin sudah kedaluwarsa atau sudah dipakai.";
    Error => "Something went wrong", "Terjadi kesalahan";
    RequestId => "Request id", "Id permintaan";
    BackToQueue => "Back to the queue", "Kembali ke antrean";
    SignedInAs => "Signed in as", "Masuk sebagai";
    Customers => "Customers", "Nasabah";
    Search => "Search", "Cari";
    SearchHint => "NIK, email, phone, customer id, externalRef or name words", "NIK, email, telepon, id nasabah, externalRef, atau kata nama";
    Name => "Name", "Nama";
    Tier => "Tier", "Tingkat";
    MatchedOn => "Matched on", "Cocok pada";
    DateOfBirth => "Date of birth", "Tanggal lahir";
    Phone => "Phone", "Telepon";
    TierLadder => "Tier ladder", "Jenjang tingkat";
    Timeline => "Verification history", "Riwayat verifikasi";
    Enrollments => "Face enrollments", "Pendaftaran wajah";
    Attempts => "Attempts", "Percobaan";
    Source => "Source", "Sumber";
    Model => "Model", "Model";
    Latency => "Latency", "Latensi";
    Erase => "Erase this customer", "Hapus nasabah ini";
    EraseWarning => "Erasure is irreversible (UU PDP): the customer's key is destroyed, and every personal field, image and embedding with it.", "Penghapusan tidak dapat dibatalkan (UU PDP): kunci nasabah dimusnahkan, beserta semua data pribadi, gambar, dan embedding.";
    EraseConfirm => "Type the customer's id to confirm:", "Ketik id nasabah untuk konfirmasi:";
    EraseReason => "Reason (kept in the audit log; no personal data)", "Alasan (disimpan di log audit; tanpa data pribadi)";
    EraseMistyped => "The id typed is not this customer's: nothing was erased.", "Id yang diketik bukan milik nasabah ini: tidak ada yang dihapus.";
    CustomerErased => "Erased:", "Dihapus:";
    Overview => "Overview", "Ringkasan";
    TierEvents => "Tier events", "Perubahan tingkat";
    OverviewIntro => "The last 14 days, in UTC.", "14 hari terakhir, dalam UTC.";
    CapturesPerDay => "KTP captures per day by verdict", "Pengambilan KTP per hari menurut hasil";
    StepUpAllowRate => "Step-up allow rate", "Tingkat izin step-up";
    StepUpLatency => "Step-up latency", "Latensi step-up";
    QueueAge => "Open review items by age", "Item tinjauan terbuka menurut umur";
    AllowRate => "allowed", "diizinkan";
    NoStepUps => "No step-ups in these days.", "Tidak ada step-up pada hari-hari ini.";
    Refused => "refused", "ditolak sistem";
    Exports => "Exports", "Ekspor";
    ExportsIntro => "CSV files (RFC 4180), streamed from the database. Each export is recorded in the audit log with its dates and who asked.", "Berkas CSV (RFC 4180), dialirkan dari basis data. Setiap ekspor dicatat di log audit beserta tanggal dan siapa yang memintanya.";
    ExportDates => "Created between these days (UTC, both included); leave a day empty for no bound.", "Dibuat di antara hari-hari ini (UTC, keduanya termasuk); kosongkan untuk tanpa batas.";
    ExportCustomers => "Download customers.csv", "Unduh customers.csv";
    ExportVerifications => "Download verifications.csv", "Unduh verifications.csv";
    Webhooks => "Webhooks", "Webhook";
    Url => "URL (https)", "URL (https)";
    Description => "Description", "Deskripsi";
    Events => "Events", "Peristiwa";
    EveryEvent => "Tick none for every event.", "Jangan centang apa pun untuk semua peristiwa.";
    Enabled => "enabled", "aktif";
    Disabled => "disabled", "nonaktif";
    AddEndpoint => "Add an endpoint", "Tambah endpoint";
    SecretOnce => "Copy this secret now: it is shown only once and cannot be read again.", "Salin rahasia ini sekarang: hanya ditampilkan sekali dan tidak dapat dibaca lagi.";
    SigningSecret => "Signing secret", "Rahasia penandatanganan";
    Deliveries => "Delivery log (newest first)", "Log pengiriman (terbaru dahulu)";
    Event => "Event", "Peristiwa";
    LastAnswer => "Last answer", "Jawaban terakhir";
    NextAttempt => "Next attempt", "Percobaan berikutnya";
    Redeliver => "Redeliver", "Kirim ulang";
    SendTest => "Send a test event", "Kirim peristiwa uji";
    Enable => "Enable", "Aktifkan";
    Disable => "Disable", "Nonaktifkan";
    DeleteEndpoint => "Delete this endpoint", "Hapus endpoint ini";
    DeleteConfirm => "Delete it with its delivery log (this cannot be undone)", "Hapus beserta log pengirimannya (tidak dapat dibatalkan)";
    EndpointDeleted => "Endpoint deleted:", "Endpoint dihapus:";
    Queued => "Queued:", "Diantrekan:";
    Saved => "Saved.", "Tersimpan.";
    ApiKeys => "API keys", "Kunci API";
    ApiKeysIntro => "Keys and OAuth clients of your organization. Secrets are shown once, when created; Kenali keeps only their hashes.", "Kunci dan klien OAuth organisasi Anda. Rahasia hanya ditampilkan sekali saat dibuat; Kenali hanya menyimpan hash-nya.";
    OAuthClients => "OAuth clients (client credentials)", "Klien OAuth (client credentials)";
    Scopes => "Scopes", "Cakupan";
    Prefix => "Prefix", "Awalan";
    CreatedBy => "Created by", "Dibuat oleh";
    Revoked => "revoked", "dicabut";
    Active => "active", "aktif";
    Revoke => "Revoke", "Cabut";
    CreateKey => "Create an API key", "Buat kunci API";
    CreateClient => "Create an OAuth client", "Buat klien OAuth";
    NewSecret => "New secret", "Rahasia baru";
    Settings => "Settings", "Pengaturan";
    SettingsIntro => "Your organization's policies. Each value is checked against its bounds before anything is saved, and every change is audited with its old and new value.", "Kebijakan organisasi Anda. Setiap nilai diperiksa terhadap batasnya sebelum disimpan, dan setiap perubahan diaudit dengan nilai lama dan barunya.";
    MatchThreshold => "Face match threshold (cosine similarity)", "Ambang kecocokan wajah (kemiripan kosinus)";
    PremiumRequiresDukcapil => "Premium requires a Dukcapil verdict", "Premium memerlukan putusan Dukcapil";
    VendorEvidenceProvesPremium => "A vendor's selfie and match, re-checked by Kenali, count toward premium", "Swafoto dan kecocokan dari vendor, diperiksa ulang Kenali, dihitung untuk premium";
    VendorPushMaxAge => "Oldest vendor push accepted (seconds)", "Kiriman vendor tertua yang diterima (detik)";
    AnalystsRequirePasskey => "Analysts sign in with a passkey (a password only enrolls a first one)", "Analis masuk dengan passkey (kata sandi hanya untuk mendaftarkan yang pertama)";
    WebhookRetryHours => "Webhook retries stop after (hours)", "Percobaan ulang webhook berhenti setelah (jam)";
    OnboardingFramesDays => "Onboarding frames kept (days)", "Bingkai onboarding disimpan (hari)";
    StepUpFramesDays => "Step-up frames kept (days)", "Bingkai step-up disimpan (hari)";
    RecordsDays => "Records kept (days)", "Catatan disimpan (hari)";
    Retention => "Retention", "Retensi";
    Policies => "Policies", "Kebijakan";
    Save => "Save", "Simpan";
    LastChanged => "Last changed", "Terakhir diubah";
    NeverChanged => "never: these are the defaults", "belum pernah: ini nilai bawaan";
    NotSaved => "Nothing was saved:", "Tidak ada yang disimpan:";
    PortraitAgainstFaces => "The card's portrait against the customer's enrolled faces", "Foto pada kartu dibandingkan dengan wajah terdaftar nasabah";
    CardPortrait => "The card's portrait (from this frame)", "Foto pada kartu (dari bingkai ini)";
    Similarity => "Similarity", "Kemiripan";
    MatchThresholdIs => "The organization's match threshold is", "Ambang kecocokan organisasi adalah";
    SamePerson => "same person", "orang yang sama";
    AnotherPerson => "another person", "orang lain";
    NoPortraitFace => "The card gave no usable face, so there is nothing to compare.", "Kartu tidak memberikan wajah yang dapat dipakai, jadi tidak ada yang dibandingkan.";
    NoOtherFaces => "The customer has no other enrolled face to compare with.", "Nasabah tidak memiliki wajah terdaftar lain untuk dibandingkan.";
    Image => "Image", "Gambar";
    RectifiedCard => "The card as it was read: located in its frame and straightened", "Kartu seperti yang dibaca: ditemukan dalam bingkainya dan diluruskan";
    Language => "Bahasa Indonesia", "English";
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, axum::http::HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn the_cookie_wins_then_the_browser_then_english() {
        assert_eq!(
            Lang::of_request(&headers(&[("cookie", "a=b; kenali_lang=id"), ("accept-language", "en")])),
            Lang::Id
        );
        assert_eq!(Lang::of_request(&headers(&[("accept-language", "id-ID,id;q=0.9,en;q=0.8")])), Lang::Id);
        assert_eq!(Lang::of_request(&headers(&[("accept-language", "fr-FR, en;q=0.5, id;q=0.4")])), Lang::En);
        assert_eq!(Lang::of_request(&headers(&[("cookie", "kenali_lang=xx")])), Lang::En);
    }

    #[test]
    fn each_language_has_its_own_words() {
        assert_ne!(Msg::ReviewQueue.text(Lang::En), Msg::ReviewQueue.text(Lang::Id));
        assert_eq!(Lang::En.other(), Lang::Id);
    }
}
