/** The package's version, sent in every bundle as `sdkVersion: "web-<version>"`. */
export const SDK_VERSION = "0.2.0";
