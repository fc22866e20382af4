//! Compiled-module artifacts on disk, keyed by content hash and engine compatibility; beside them,
//! each module's task listing (so a cached load never starts the guest) and the content hash of
//! each module file this user loaded, keyed by the file's identity (so a cached load need not read
//! and hash a large file again).
//!
//! A remembered hash is used only while the file's device, inode, size, modification time and
//! change time are all as they were (as git's index does): any write or replacement changes the
//! change time, which no one can set back.
//!
//! Invariant: a file in the cache directory is only ever deserialized if its name was derived from
//! the sha256 of the component bytes and the engine key, and the directory is private to this user
//! (mode 0700, owned by the current uid). Files are written to a temporary name and renamed into
//! place, so a crash or a full disk never leaves a truncated artifact under a real name.
//!
//! On Windows the directory is `%LOCALAPPDATA%\wasmproc`, which is private to the user by its
//! default access rights (nothing here changes or checks them), and file hashes are not
//! remembered: Windows has no change time that a writer cannot set back, so every load hashes the
//! file.

use crate::error::Error;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub(crate) struct Cache {
    dir: PathBuf,
}

impl Cache {
    /// Opens (creating if needed) a private cache directory.
    pub(crate) fn open(dir: PathBuf) -> Result<Cache, Error> {
        let err = |reason: String| Error::Cache { path: dir.clone(), reason };
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(&dir).map_err(|e| err(format!("cannot create the directory: {e}")))?;
        #[cfg(unix)]
        Cache::check_private(&dir).map_err(err)?;
        Ok(Cache { dir })
    }

    /// Refuses a directory another user could have put code in.
    #[cfg(unix)]
    fn check_private(dir: &Path) -> Result<(), String> {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let meta = fs::metadata(dir).map_err(|e| e.to_string())?;
        let uid = rustix::process::geteuid().as_raw();
        if meta.uid() != uid {
            return Err(format!(
                "owned by uid {}, not by this user ({uid}); refusing to load compiled code from it",
                meta.uid()
            ));
        }
        if meta.permissions().mode() & 0o022 != 0 {
            return Err("writable by other users; refusing to load compiled code from it".into());
        }
        Ok(())
    }

    /// The default location: `$WASMPROC_CACHE_DIR`, else (Windows) `%LOCALAPPDATA%\wasmproc`,
    /// else `$XDG_CACHE_HOME/wasmproc`, else `~/.cache/wasmproc`, else a per-user directory under
    /// the system temp dir.
    pub(crate) fn default_dir() -> PathBuf {
        if let Some(dir) = std::env::var_os("WASMPROC_CACHE_DIR") {
            return PathBuf::from(dir);
        }
        #[cfg(windows)]
        if let Some(dir) = std::env::var_os("LOCALAPPDATA").filter(|d| !d.is_empty()) {
            return PathBuf::from(dir).join("wasmproc");
        }
        if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
            return PathBuf::from(dir).join("wasmproc");
        }
        if let Some(home) = std::env::var_os("HOME").filter(|d| !d.is_empty()) {
            return PathBuf::from(home).join(".cache").join("wasmproc");
        }
        #[cfg(unix)]
        let user = rustix::process::geteuid().as_raw().to_string();
        #[cfg(windows)]
        let user = std::env::var("USERNAME").unwrap_or_default();
        std::env::temp_dir().join(format!("wasmproc-cache-{user}"))
    }

    /// The cache directory.
    pub(crate) fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    pub(crate) fn path_for(&self, content_hash: &str, engine_key: &str) -> PathBuf {
        self.dir.join(format!("{content_hash}-{engine_key}.cwasm"))
    }

    /// Where the task listing of the module with `content_hash` is kept.
    pub(crate) fn listing_path(&self, content_hash: &str) -> PathBuf {
        self.dir.join(format!("{content_hash}.tasks.json"))
    }

    /// The content hash remembered for `file`, if the file is exactly as it was then.
    pub(crate) fn known_hash(&self, file: &Path) -> Option<String> {
        let identity = Cache::identity(file)?;
        let memo = fs::read_to_string(self.memo_path(file)?).ok()?;
        let (seen, hash) = memo.trim_end().rsplit_once(' ')?;
        (seen == identity && hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit())).then(|| hash.to_string())
    }

    /// Remembers that `file` has content hash `hash` if it still has the `identity` it had
    /// before it was read (best effort: a failure only means the next load hashes it again).
    pub(crate) fn remember_hash(&self, file: &Path, identity: &str, hash: &str) {
        if Cache::identity(file).as_deref() != Some(identity) {
            return;
        }
        if let Some(path) = self.memo_path(file) {
            let _ = self.store(&path, format!("{identity} {hash}\n").as_bytes());
        }
    }

    /// What identifies a file's current contents without reading them.
    #[cfg(unix)]
    pub(crate) fn identity(file: &Path) -> Option<String> {
        use std::os::unix::fs::MetadataExt;
        let m = fs::metadata(file).ok()?;
        let (dev, ino, size) = (m.dev(), m.ino(), m.size());
        let (mtime, ctime) = ((m.mtime(), m.mtime_nsec()), (m.ctime(), m.ctime_nsec()));
        Some(format!("{dev}:{ino}:{size}:{}.{}:{}.{}", mtime.0, mtime.1, ctime.0, ctime.1))
    }

    /// Nothing on Windows (see the module docs).
    #[cfg(windows)]
    pub(crate) fn identity(_file: &Path) -> Option<String> {
        None
    }

    /// The memo of `file`, named by the hash of its absolute path.
    fn memo_path(&self, file: &Path) -> Option<PathBuf> {
        use sha2::{Digest, Sha256};
        let absolute = fs::canonicalize(file).ok()?;
        let name = Sha256::digest(absolute.as_os_str().as_encoded_bytes());
        Some(self.dir.join(format!("{name:x}.source")))
    }

    /// Writes `bytes` to `path` atomically.
    pub(crate) fn store(&self, path: &Path, bytes: &[u8]) -> Result<(), Error> {
        let tmp = path.with_extension(format!("tmp-{}-{:x}", std::process::id(), nanos()));
        let write = || -> std::io::Result<()> {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            fs::rename(&tmp, path)
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            Error::Cache { path: path.to_path_buf(), reason: format!("cannot write the compiled module: {e}") }
        })
    }
}

fn nanos() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
}

#[cfg(all(test, unix))] // Both check what Windows does not have: modes and remembered hashes.
mod tests {
    use super::*;

    #[test]
    fn refuses_a_world_writable_directory() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("wasmproc-cache-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let cache = Cache::open(dir.clone()).unwrap();
        let path = cache.path_for("abc", "def");
        cache.store(&path, b"hello").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"hello");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
        let err = Cache::open(dir.clone()).unwrap_err();
        assert!(err.to_string().contains("writable by other users"), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_remembered_hash_holds_only_while_the_file_is_unchanged() {
        let dir = std::env::temp_dir().join(format!("wasmproc-cache-memo-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let cache = Cache::open(dir.join("cache")).unwrap();
        let file = dir.join("tasks.wasm");
        fs::write(&file, b"version one").unwrap();
        assert_eq!(cache.known_hash(&file), None);
        let hash = "ab".repeat(32);
        let before = Cache::identity(&file).unwrap();
        cache.remember_hash(&file, &before, &hash);
        assert_eq!(cache.known_hash(&file), Some(hash.clone()));
        // Rewritten in place with contents of the same size and its old modification time.
        let modified = fs::metadata(&file).unwrap().modified().unwrap();
        fs::write(&file, b"version two").unwrap();
        fs::File::options().write(true).open(&file).unwrap().set_modified(modified).unwrap();
        assert_eq!(cache.known_hash(&file), None, "its change time moved");
        cache.remember_hash(&file, &before, &hash);
        assert_eq!(cache.known_hash(&file), None, "not remembered: it changed after it was read");
        fs::remove_file(&file).unwrap();
        assert_eq!(cache.known_hash(&file), None, "gone");
        fs::remove_dir_all(&dir).unwrap();
    }
}
