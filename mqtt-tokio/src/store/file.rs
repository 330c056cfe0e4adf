//! [`FileStore`]: the session in one append-only file.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mqttkit_session::PersistOp;
use mqttkit_session::bytes::BytesMut;
use mqttkit_session::mqttkit_codec::PublishQoS;

use super::log;
use super::{Record, Store, StoreError, Stored};

/// When [`FileStore`] asks the operating system to put its writes on the
/// disk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyncPolicy {
    /// Every [`Store::append`] ends with `sync_data` (`fdatasync`): when it
    /// returns, its records survive a crash of the process, of the kernel
    /// and a power loss, as far as the disk honours cache flushes. One
    /// disk flush per append.
    #[default]
    EveryAppend,
    /// [`Store::append`] only writes; the operating system puts the pages
    /// on the disk in its own time. When it returns, its records survive a
    /// crash of the process (a panic, `kill -9`, the OOM killer), since
    /// they are in the kernel's page cache, but a kernel crash or power
    /// loss can lose the most recent appends. The file then opens with
    /// those records missing, or, if the disk wrote the pages out of
    /// order, refuses to open with [`StoreError::Corrupt`] rather than
    /// drop records that follow a damaged one. Compaction still syncs.
    LeaveToOs,
}

/// Settings of a [`FileStore`].
///
/// ```
/// use mqttkit_tokio::{FileStoreOptions, SyncPolicy};
///
/// let options = FileStoreOptions::default()
///     .sync(SyncPolicy::LeaveToOs)
///     .max_record_size(1 << 20)
///     .compaction(4 << 20, 4);
/// # let _ = options;
/// ```
#[derive(Debug, Clone)]
pub struct FileStoreOptions {
    sync: SyncPolicy,
    max_record_size: u32,
    compact_min_bytes: u64,
    compact_ratio: u32,
}

impl Default for FileStoreOptions {
    fn default() -> Self {
        Self {
            sync: SyncPolicy::default(),
            max_record_size: 16 << 20,
            compact_min_bytes: 1 << 20,
            compact_ratio: 4,
        }
    }
}

impl FileStoreOptions {
    /// When appends are synced; [`SyncPolicy::EveryAppend`] by default.
    ///
    /// ```
    /// use mqttkit_tokio::{FileStoreOptions, SyncPolicy};
    ///
    /// let options = FileStoreOptions::default().sync(SyncPolicy::LeaveToOs);
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn sync(mut self, policy: SyncPolicy) -> Self {
        self.sync = policy;
        self
    }

    /// The largest record, in bytes (16 MiB by default). A record holds one
    /// message with its topic and properties, so this bounds the messages
    /// the store accepts: [`Store::append`] refuses a longer one with an
    /// [`std::io::ErrorKind::InvalidInput`] error. On open it also bounds
    /// what one length field of the file may announce: a longer valid
    /// record (written with a larger setting) refuses to open with
    /// [`StoreError::Corrupt`]. At least 64 bytes.
    ///
    /// ```
    /// let options = mqttkit_tokio::FileStoreOptions::default().max_record_size(256 << 10);
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn max_record_size(mut self, bytes: u32) -> Self {
        self.max_record_size = bytes.max(64);
        self
    }

    /// Compacts the file when it is longer than `min_bytes` and more than
    /// `ratio` times the live state (1 MiB and 4 by default). A ratio
    /// below 2 counts as 2. The file is also compacted on every open.
    ///
    /// ```
    /// // Small flash: compact early, at 64 KiB and twice the live state.
    /// let options = mqttkit_tokio::FileStoreOptions::default().compaction(64 << 10, 2);
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn compaction(mut self, min_bytes: u64, ratio: u32) -> Self {
        self.compact_min_bytes = min_bytes;
        self.compact_ratio = ratio.max(2);
        self
    }
}

/// A [`Store`] in one append-only file, for one client identifier.
///
/// # Format and recovery
///
/// The file starts with a header that names the format version and the
/// client identifier, then holds records, each framed with its length and
/// a CRC-32. Compaction writes the live state into a temporary file next to
/// it (`<name>.tmp`), syncs it, renames it over the log and syncs the
/// directory, so a crash leaves either the old or the new file.
///
/// On open, an incomplete last record, or one failing its checksum at the
/// very end of the file (what a crash in the middle of an append leaves),
/// is cut off: that append had not returned, so the driver had sent
/// nothing it covers. [`FileStore::torn_bytes`] says how many bytes were
/// cut. Anything else that does not read refuses to open, so that no
/// record is lost unnoticed: a file of another format
/// ([`StoreError::Foreign`]), of another client
/// ([`StoreError::OtherClient`]), a damaged record followed by valid ones,
/// an unknown record kind, or records that contradict each other
/// ([`StoreError::Corrupt`]).
///
/// # Durability
///
/// See [`SyncPolicy`]: by default every append is synced before it
/// returns. A record is never larger than
/// [`FileStoreOptions::max_record_size`]. No length field or count in the
/// file sizes an allocation: opening reads the file once and keeps the
/// records it holds, so its memory is in proportion to the file's size.
///
/// One process at a time: the store holds an exclusive lock on
/// `<name>.lock` while it is open, and a second open fails with
/// [`std::io::ErrorKind::WouldBlock`] after waiting a second for it.
///
/// All methods block on file I/O; the driver calls the [`Store`] methods
/// from a blocking thread.
///
/// ```no_run
/// use mqttkit_tokio::{FileStore, Store};
///
/// let mut store = FileStore::open("/var/lib/sensor/session.mqtt", "sensor-7")?;
/// let state = store.load()?; // what the previous run left
/// println!("{} messages to resend", state.outbound.len() + state.queued.len());
/// # Ok::<(), mqttkit_tokio::StoreError>(())
/// ```
#[derive(Debug)]
pub struct FileStore {
    path: PathBuf,
    temp: PathBuf,
    client_id: String,
    options: FileStoreOptions,
    file: File,
    /// Held for the store's life.
    _lock: File,
    state: Stored,
    /// Bytes in the log.
    len: u64,
    /// The log length at which the live state is measured again.
    check_at: u64,
    torn: u64,
    /// A write or sync failed in a way that leaves the file unknown.
    failed: bool,
    buf: BytesMut,
}

/// `path` with `suffix` added to its file name.
fn sibling(path: &Path, suffix: &str) -> Result<PathBuf, StoreError> {
    let mut name = path
        .file_name()
        .ok_or_else(|| log::invalid_input("the store path names no file"))?
        .to_os_string();
    name.push(suffix);
    Ok(path.with_file_name(name))
}

/// How long [`FileStore::open`] waits for the lock.
const LOCK_WAIT: Duration = Duration::from_secs(1);

/// Takes the exclusive lock on `lock`, for the store at `path`. Waits a
/// little: a child process forked while a store was open holds a copy of
/// its lock until it starts its own program, so a lock held that briefly
/// is not another store.
fn take_lock(lock: &File, path: &Path) -> Result<(), StoreError> {
    let deadline = Instant::now().checked_add(LOCK_WAIT);
    loop {
        match lock.try_lock() {
            Ok(()) => return Ok(()),
            Err(TryLockError::WouldBlock) if deadline.is_some_and(|at| Instant::now() < at) => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(TryLockError::WouldBlock) => {
                return Err(StoreError::Io(std::io::Error::new(
                    std::io::ErrorKind::WouldBlock,
                    format!("{} is open in another store", path.display()),
                )));
            }
            // A file system without locks: run without.
            Err(TryLockError::Error(e)) if e.kind() == std::io::ErrorKind::Unsupported => {
                return Ok(());
            }
            Err(TryLockError::Error(e)) => return Err(e.into()),
        }
    }
}

/// Makes a rename in the directory of `path` durable.
fn sync_dir(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let dir = path
            .parent()
            .filter(|dir| !dir.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        File::open(dir)?.sync_all()?;
    }
    // Elsewhere a directory cannot be opened to be synced; the rename is
    // as durable as the file system makes it.
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// The record as a reload gives it back: the DUP flag of an in-flight
/// PUBLISH is not kept, since the session sets it on every resend.
fn as_stored(record: &Record) -> Option<Record> {
    match record {
        Record::Session(PersistOp::PutOutbound(put)) if put.publish.qos.dup() => {
            let mut put = put.clone();
            put.publish.qos = without_dup(put.publish.qos);
            Some(Record::Session(PersistOp::PutOutbound(put)))
        }
        _ => None,
    }
}

fn without_dup(qos: PublishQoS) -> PublishQoS {
    qos.packet_id()
        .map_or(qos, |id| PublishQoS::new(qos.qos(), id))
}

impl FileStore {
    /// Opens the store at `path` for `client_id`, creating it if it does
    /// not exist, with the default [`FileStoreOptions`]. The file is
    /// compacted at once.
    ///
    /// ```no_run
    /// let store = mqttkit_tokio::FileStore::open("session.mqtt", "sensor-7")?;
    /// # let _ = store;
    /// # Ok::<(), mqttkit_tokio::StoreError>(())
    /// ```
    pub fn open(path: impl AsRef<Path>, client_id: &str) -> Result<Self, StoreError> {
        Self::open_with(path, client_id, FileStoreOptions::default())
    }

    /// [`FileStore::open`] with `options`.
    ///
    /// ```no_run
    /// use mqttkit_tokio::{FileStore, FileStoreOptions, SyncPolicy};
    ///
    /// let options = FileStoreOptions::default().sync(SyncPolicy::LeaveToOs);
    /// let store = FileStore::open_with("session.mqtt", "sensor-7", options)?;
    /// # let _ = store;
    /// # Ok::<(), mqttkit_tokio::StoreError>(())
    /// ```
    pub fn open_with(
        path: impl AsRef<Path>,
        client_id: &str,
        options: FileStoreOptions,
    ) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        let temp = sibling(&path, ".tmp")?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(sibling(&path, ".lock")?)?;
        take_lock(&lock, &path)?;
        // Left by a compaction that crashed before its rename.
        match std::fs::remove_file(&temp) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
        let (state, torn) = match std::fs::read(&path) {
            Ok(data) => {
                let replay = log::read(&data, client_id, options.max_record_size)?;
                (replay.state, replay.torn)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (Stored::default(), 0),
            Err(e) => return Err(e.into()),
        };
        let mut buf = BytesMut::new();
        log::put_checkpoint(&mut buf, client_id, &state, options.max_record_size)?;
        let file = Self::write_new(&path, &temp, &buf).map_err(|(e, _)| e)?;
        let len = u64::try_from(buf.len()).unwrap_or(u64::MAX);
        buf.clear();
        let mut store = Self {
            path,
            temp,
            client_id: client_id.to_owned(),
            options,
            file,
            _lock: lock,
            state,
            len,
            check_at: 0,
            torn,
            failed: false,
            buf,
        };
        store.check_at = store.next_check(len);
        Ok(store)
    }

    /// Reads the bytes of a store file for `client_id` without opening it,
    /// as [`FileStore::open_with`] would read them with `options`: the
    /// state, or why the file would not open. A torn last record is left
    /// out, as on open.
    ///
    /// ```
    /// use mqttkit_tokio::{FileStore, FileStoreOptions, StoreError};
    ///
    /// let junk = FileStore::read_bytes(b"not a store", "sensor-7", &FileStoreOptions::default());
    /// assert!(matches!(junk, Err(StoreError::Foreign(_))));
    /// ```
    pub fn read_bytes(
        data: &[u8],
        client_id: &str,
        options: &FileStoreOptions,
    ) -> Result<Stored, StoreError> {
        log::read(data, client_id, options.max_record_size).map(|replay| replay.state)
    }

    /// The path of the log.
    ///
    /// ```no_run
    /// let store = mqttkit_tokio::FileStore::open("session.mqtt", "sensor-7")?;
    /// assert_eq!(store.path(), std::path::Path::new("session.mqtt"));
    /// # Ok::<(), mqttkit_tokio::StoreError>(())
    /// ```
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many bytes of a torn last record were cut off when the file was
    /// opened; 0 when the previous run ended cleanly. Worth a log line: a
    /// crash interrupted an append.
    ///
    /// ```no_run
    /// let store = mqttkit_tokio::FileStore::open("session.mqtt", "sensor-7")?;
    /// if store.torn_bytes() > 0 {
    ///     eprintln!("the last run crashed while it wrote its session");
    /// }
    /// # Ok::<(), mqttkit_tokio::StoreError>(())
    /// ```
    pub fn torn_bytes(&self) -> u64 {
        self.torn
    }

    /// The length of the log file in bytes.
    ///
    /// ```no_run
    /// let store = mqttkit_tokio::FileStore::open("session.mqtt", "sensor-7")?;
    /// println!("{} bytes", store.len());
    /// # Ok::<(), mqttkit_tokio::StoreError>(())
    /// ```
    #[allow(clippy::len_without_is_empty)] // a store file is never empty
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Rewrites the file from the live state now, whatever its length.
    ///
    /// ```no_run
    /// let mut store = mqttkit_tokio::FileStore::open("session.mqtt", "sensor-7")?;
    /// store.compact()?;
    /// # Ok::<(), mqttkit_tokio::StoreError>(())
    /// ```
    pub fn compact(&mut self) -> Result<(), StoreError> {
        self.usable()?;
        self.put_checkpoint()?;
        self.install()
    }

    /// Encodes the live state as a checkpoint into `self.buf`, replacing
    /// what it held (left empty on error).
    fn put_checkpoint(&mut self) -> Result<(), StoreError> {
        self.buf.clear();
        log::put_checkpoint(
            &mut self.buf,
            &self.client_id,
            &self.state,
            self.options.max_record_size,
        )
        .inspect_err(|_| self.buf.clear())
    }

    fn usable(&self) -> Result<(), StoreError> {
        if self.failed {
            return Err(StoreError::Io(std::io::Error::other(
                "an earlier write or sync of the store failed; open it again",
            )));
        }
        Ok(())
    }

    /// The length at which to measure the live state again after it was
    /// `live` bytes.
    fn next_check(&self, live: u64) -> u64 {
        live.saturating_mul(u64::from(self.options.compact_ratio))
            .max(self.options.compact_min_bytes)
    }

    /// Writes `data` to the temporary file, syncs it, renames it over
    /// `path`, syncs the directory; returns the result opened for append.
    /// On error, whether the old log is still in place and untouched.
    fn write_new(path: &Path, temp: &Path, data: &[u8]) -> Result<File, (StoreError, bool)> {
        let before_rename = |e: std::io::Error| {
            // Best effort: open removes a leftover temporary file too.
            let _ = std::fs::remove_file(temp);
            (StoreError::Io(e), true)
        };
        let mut file = File::create(temp).map_err(before_rename)?;
        file.write_all(data).map_err(before_rename)?;
        file.sync_all().map_err(before_rename)?;
        drop(file);
        std::fs::rename(temp, path).map_err(before_rename)?;
        let after_rename = |e: std::io::Error| (StoreError::Io(e), false);
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(after_rename)?;
        sync_dir(path).map_err(after_rename)?;
        Ok(file)
    }

    /// Replaces the file with the content of `self.buf`.
    fn install(&mut self) -> Result<(), StoreError> {
        match Self::write_new(&self.path, &self.temp, &self.buf) {
            Ok(file) => {
                self.file = file;
                self.failed = false;
                self.len = u64::try_from(self.buf.len()).unwrap_or(u64::MAX);
                self.check_at = self.next_check(self.len);
                self.buf.clear();
                Ok(())
            }
            Err((e, untouched)) => {
                // After the rename, the handle points at a file that is no
                // longer the log, or the rename may not be durable.
                self.failed |= !untouched;
                self.buf.clear();
                Err(e)
            }
        }
    }

    /// Compacts when the log has grown past the configured multiple of the
    /// live state.
    fn maybe_compact(&mut self) -> Result<(), StoreError> {
        if self.len < self.check_at {
            return Ok(());
        }
        self.put_checkpoint()?;
        let live = u64::try_from(self.buf.len()).unwrap_or(u64::MAX);
        let ratio = u64::from(self.options.compact_ratio);
        if live.saturating_mul(ratio) <= self.len {
            return self.install();
        }
        // Mostly live: measure again once the log has grown that much more.
        self.buf.clear();
        self.check_at = self.next_check(live).max(self.len.saturating_add(1));
        Ok(())
    }

    /// After a failed append: cuts the file back to its last complete
    /// record, or gives up on it.
    fn undo_partial_write(&mut self) {
        if self.file.set_len(self.len).is_err() {
            self.failed = true;
        }
    }
}

impl Store for FileStore {
    /// The state read on open, with everything appended since.
    fn load(&mut self) -> Result<Stored, StoreError> {
        Ok(self.state.clone())
    }

    /// Appends `records` in one write; with [`SyncPolicy::EveryAppend`]
    /// syncs before returning. A record longer than
    /// [`FileStoreOptions::max_record_size`], or an in-flight record
    /// without packet identifier or topic, fails the whole call with an
    /// [`std::io::ErrorKind::InvalidInput`] error and writes nothing. A
    /// failed sync makes every later call fail until the store is opened
    /// again, since the file's content is then unknown. When the append
    /// made the log long enough to compact, it compacts; if that fails the
    /// call returns the error, though the records were written.
    fn append(&mut self, records: &[Record]) -> Result<(), StoreError> {
        self.usable()?;
        self.buf.clear();
        for record in records {
            if let Err(e) = log::put_record(&mut self.buf, record, self.options.max_record_size) {
                self.buf.clear();
                return Err(e);
            }
        }
        if self.buf.is_empty() {
            return Ok(());
        }
        if let Err(e) = self.file.write_all(&self.buf) {
            self.buf.clear();
            self.undo_partial_write();
            return Err(e.into());
        }
        let written = u64::try_from(self.buf.len()).unwrap_or(u64::MAX);
        self.buf.clear();
        if self.options.sync == SyncPolicy::EveryAppend
            && let Err(e) = self.file.sync_data()
        {
            // The kernel may have dropped the pages it could not write;
            // nothing about the file can be trusted now.
            self.failed = true;
            return Err(e.into());
        }
        self.len = self.len.saturating_add(written);
        for record in records {
            match as_stored(record) {
                Some(stored) => self.state.apply(&stored),
                None => self.state.apply(record),
            }
        }
        self.maybe_compact()
    }

    /// Writes `state` as a new file, synced and renamed over the old one.
    /// A state [`Stored::apply`] cannot produce (two in-flight or two
    /// inbound messages with one packet identifier, queued operations out
    /// of order or repeated) fails with an
    /// [`std::io::ErrorKind::InvalidInput`] error and changes nothing.
    fn replace(&mut self, state: &Stored) -> Result<(), StoreError> {
        self.buf.clear();
        log::put_checkpoint(
            &mut self.buf,
            &self.client_id,
            state,
            self.options.max_record_size,
        )
        .inspect_err(|_| self.buf.clear())?;
        self.install()?;
        let mut stored = state.clone();
        for put in &mut stored.outbound {
            put.publish.qos = without_dup(put.publish.qos);
        }
        self.state = stored;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::cast_possible_truncation, clippy::field_reassign_with_default)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use mqttkit_session::{InboundRecord, PacketId, QoS};

    use super::super::log::tests::{every_kind, message, outbound};
    use super::*;

    /// A directory removed when the test ends.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> Self {
            static NEXT: AtomicU32 = AtomicU32::new(0);
            let dir = std::env::temp_dir().join(format!(
                "mqttkit-file-store-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }

        fn file(&self) -> PathBuf {
            self.0.join("session.mqtt")
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn model(records: &[Record]) -> Stored {
        let mut state = Stored::default();
        for record in records {
            state.apply(record);
        }
        state
    }

    #[test]
    fn appended_records_are_loaded_after_a_reopen() {
        let dir = TempDir::new();
        let records = every_kind();
        let mut store = FileStore::open(dir.file(), "sensor-7").unwrap();
        assert_eq!(store.load().unwrap(), Stored::default());
        store.append(&records[..5]).unwrap();
        store.append(&records[5..]).unwrap();
        assert_eq!(store.load().unwrap(), model(&records));
        drop(store);
        let mut store = FileStore::open(dir.file(), "sensor-7").unwrap();
        assert_eq!(store.load().unwrap(), model(&records));
        assert_eq!(store.torn_bytes(), 0);
        // Opening compacted the log to the live state.
        let compacted = std::fs::read(dir.file()).unwrap().len() as u64;
        assert_eq!(store.len(), compacted);
    }

    #[test]
    fn compaction_keeps_the_state_and_bounds_the_file() {
        let dir = TempDir::new();
        let options = FileStoreOptions::default()
            .compaction(0, 2)
            .sync(SyncPolicy::LeaveToOs);
        let mut store = FileStore::open_with(dir.file(), "sensor-7", options.clone()).unwrap();
        let mut expected = Stored::default();
        let mut longest = 0;
        // Messages pass through, one stays in flight and one queued at a time.
        for n in 0..300u64 {
            let id = u16::try_from(n % 60_000 + 1).unwrap();
            let records = [
                Record::Accepted {
                    op: n,
                    message: message(QoS::AtLeastOnce, &[n as u8; 40]),
                },
                Record::Session(PersistOp::PutOutbound(outbound(
                    n,
                    n,
                    id,
                    QoS::AtLeastOnce,
                    &[n as u8; 40],
                ))),
            ];
            store.append(&records).unwrap();
            if n > 0 {
                let previous = PacketId::new(id - 1).unwrap();
                store
                    .append(&[Record::Session(PersistOp::RemoveOutbound(previous))])
                    .unwrap();
                expected.apply(&Record::Session(PersistOp::RemoveOutbound(previous)));
            }
            for record in &records {
                expected.apply(record);
            }
            longest = longest.max(std::fs::metadata(dir.file()).unwrap().len());
            assert_eq!(store.load().unwrap(), expected);
        }
        let live = {
            let mut buf = BytesMut::new();
            log::put_checkpoint(&mut buf, "sensor-7", &expected, 1 << 20).unwrap();
            buf.len() as u64
        };
        // Without compaction the file would hold all 300 messages.
        assert!(
            longest <= 2 * live + 512,
            "{longest} bytes with {live} live"
        );
        store.compact().unwrap();
        assert_eq!(store.len(), live);
        drop(store);
        let mut store = FileStore::open_with(dir.file(), "sensor-7", options).unwrap();
        assert_eq!(store.load().unwrap(), expected);
    }

    #[test]
    fn replace_writes_the_state_given() {
        let dir = TempDir::new();
        let mut store = FileStore::open(dir.file(), "sensor-7").unwrap();
        store.append(&every_kind()).unwrap();
        let mut state = Stored::default();
        state.established = true;
        state.queued.push((40, message(QoS::ExactlyOnce, b"again")));
        state
            .outbound
            .push(outbound(9, 39, 77, QoS::ExactlyOnce, b"in flight"));
        state.inbound.push(InboundRecord {
            packet_id: PacketId::new(3).unwrap(),
            acked: None,
        });
        store.replace(&state).unwrap();
        assert_eq!(store.load().unwrap(), state);
        store.append(&[Record::Dropped { op: 39 }]).unwrap();
        state.apply(&Record::Dropped { op: 39 });
        drop(store);
        let mut store = FileStore::open(dir.file(), "sensor-7").unwrap();
        assert_eq!(store.load().unwrap(), state);

        // A state no sequence of records gives is refused, and nothing changes.
        let mut twice = state.clone();
        twice.inbound.push(twice.inbound[0]);
        match store.replace(&twice) {
            Err(StoreError::Io(e)) => assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput),
            other => panic!("{other:?}"),
        }
        drop(store);
        let mut store = FileStore::open(dir.file(), "sensor-7").unwrap();
        assert_eq!(store.load().unwrap(), state);
    }

    #[test]
    fn the_dup_flag_of_an_in_flight_message_is_not_kept() {
        let dir = TempDir::new();
        let mut store = FileStore::open(dir.file(), "sensor-7").unwrap();
        let mut put = outbound(1, 1, 5, QoS::AtLeastOnce, b"p");
        put.publish.qos = put.publish.qos.redelivery();
        store
            .append(&[Record::Session(PersistOp::PutOutbound(put.clone()))])
            .unwrap();
        let in_memory = store.load().unwrap();
        drop(store);
        let loaded = FileStore::open(dir.file(), "sensor-7")
            .unwrap()
            .load()
            .unwrap();
        assert_eq!(loaded, in_memory);
        assert!(!loaded.outbound[0].publish.qos.dup());
        put.publish.qos = without_dup(put.publish.qos);
        assert_eq!(loaded.outbound[0], put);
    }

    #[test]
    fn a_torn_append_is_cut_off_on_open() {
        let dir = TempDir::new();
        let records = every_kind();
        let mut store = FileStore::open(dir.file(), "sensor-7").unwrap();
        store.append(&records[..3]).unwrap();
        let before = store.len();
        store.append(&records[3..5]).unwrap();
        let after = store.len();
        drop(store);
        let data = std::fs::read(dir.file()).unwrap();
        for cut in [before + 1, (before + after) / 2, after - 1] {
            std::fs::write(dir.file(), &data[..cut as usize]).unwrap();
            let mut store = FileStore::open(dir.file(), "sensor-7").unwrap();
            // Whole frames of the torn append stay; the torn one is gone.
            let state = store.load().unwrap();
            let torn = store.torn_bytes();
            if state == model(&records[..3]) {
                assert_eq!(torn, cut - before);
            } else {
                assert_eq!(state, model(&records[..4]), "cut at {cut}");
                assert!(0 < torn && torn < cut - before, "cut at {cut}");
            }
            drop(store);
            // The open compacted the tail away.
            assert_eq!(
                FileStore::open(dir.file(), "sensor-7")
                    .unwrap()
                    .torn_bytes(),
                0
            );
        }
    }

    #[test]
    fn refuses_another_client_and_a_second_open() {
        let dir = TempDir::new();
        let store = FileStore::open(dir.file(), "sensor-7").unwrap();
        match FileStore::open(dir.file(), "sensor-7") {
            Err(StoreError::Io(e)) => assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock),
            other => panic!("{other:?}"),
        }
        drop(store);
        assert!(matches!(
            FileStore::open(dir.file(), "sensor-8"),
            Err(StoreError::OtherClient { .. })
        ));
        std::fs::write(dir.file(), b"some other file").unwrap();
        assert!(matches!(
            FileStore::open(dir.file(), "sensor-7"),
            Err(StoreError::Foreign(_))
        ));
        // Refused, and left as it was.
        assert_eq!(std::fs::read(dir.file()).unwrap(), b"some other file");
    }

    #[test]
    fn a_leftover_temporary_file_is_removed() {
        let dir = TempDir::new();
        let temp = sibling(&dir.file(), ".tmp").unwrap();
        std::fs::write(&temp, b"half a compaction").unwrap();
        let mut store = FileStore::open(dir.file(), "sensor-7").unwrap();
        assert!(!temp.exists());
        assert_eq!(store.load().unwrap(), Stored::default());
    }

    #[test]
    fn an_oversized_record_fails_the_append_and_writes_nothing() {
        let dir = TempDir::new();
        let options = FileStoreOptions::default().max_record_size(128);
        let mut store = FileStore::open_with(dir.file(), "sensor-7", options).unwrap();
        let len = store.len();
        let records = [
            Record::Established,
            Record::Accepted {
                op: 1,
                message: message(QoS::AtLeastOnce, &[0; 200]),
            },
        ];
        match store.append(&records) {
            Err(StoreError::Io(e)) => assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput),
            other => panic!("{other:?}"),
        }
        assert_eq!(store.len(), len);
        assert_eq!(std::fs::metadata(dir.file()).unwrap().len(), len);
        assert_eq!(store.load().unwrap(), Stored::default());
        store.append(&records[..1]).unwrap();
    }
}
