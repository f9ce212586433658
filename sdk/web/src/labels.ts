/** The words the SDK shows, in English and Indonesian; integrators may override any of them. */
export interface Labels {
  warningTitle: string;
  /** `{steps}` and `{seconds}` are filled in. */
  warningText: string;
  start: string;
  cancel: string;
  faceGuide: string;
  cardGuide: string;
  holdStill: string;
  ready: string;
}

export const LABELS: Record<"en" | "id", Labels> = {
  en: {
    warningTitle: "The screen will flash",
    warningText:
      "This check shows {steps} bright colours, one after another, for about {seconds} seconds. " +
      "If flashing light affects you (for example photosensitive epilepsy), choose Cancel and ask for another way to verify.",
    start: "Start",
    cancel: "Cancel",
    faceGuide: "Put your face in the oval",
    cardGuide: "Fit your KTP to the frame",
    holdStill: "Hold still…",
    ready: "Looks good",
  },
  id: {
    warningTitle: "Layar akan berkedip",
    warningText:
      "Pemeriksaan ini menampilkan {steps} warna terang berganti-ganti selama sekitar {seconds} detik. " +
      "Jika cahaya berkedip mengganggu Anda (misalnya epilepsi fotosensitif), pilih Batal dan minta cara verifikasi lain.",
    start: "Mulai",
    cancel: "Batal",
    faceGuide: "Posisikan wajah Anda di dalam oval",
    cardGuide: "Posisikan KTP Anda di dalam bingkai",
    holdStill: "Tahan, jangan bergerak…",
    ready: "Sudah pas",
  },
};
