//! Progress of long work (layer uploads and downloads, the Docker build context, layer reads for
//! SBOMs, vulnerability database loads), reported to whoever shows it.
//!
//! The lower layers (`oci`, `build`, `sbom`, `scan`) report here and know nothing of terminals;
//! `cli` implements [`Observer`] (bars on a terminal, plain lines in CI and pipes). The default
//! [`Progress`] reports nowhere, so library callers and tests pay nothing. Reporting never holds
//! data: streams stay streams, only their byte counts pass through.

use std::sync::Arc;

/// What kind of work a task is; the display picks its words and unit from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A blob sent to a registry (bytes).
    Upload,
    /// A blob fetched from a registry (bytes).
    Download,
    /// The build context streamed to the Docker engine (bytes; total unknown).
    BuildContext,
    /// A layer read for its packages (compressed bytes).
    LayerRead,
    /// Vulnerability records parsed (records).
    DatabaseLoad,
}

impl Kind {
    /// Whether the task counts bytes (else items).
    pub fn counts_bytes(&self) -> bool {
        !matches!(self, Kind::DatabaseLoad)
    }
}

/// One task as announced to the observer.
#[derive(Clone, Debug)]
pub struct TaskInfo {
    pub kind: Kind,
    /// What is being worked on, e.g. a blob digest or a database path.
    pub label: String,
    /// Bytes or items in all, when known.
    pub total: Option<u64>,
}

/// Shows tasks (implemented by the CLI).
pub trait Observer: Send + Sync {
    /// A task begins; the returned tracker is told of its advance. Dropping the tracker
    /// without [`Tracker::finish`] means the task was abandoned (failed or cancelled).
    fn start(&self, info: TaskInfo) -> Box<dyn Tracker>;
    /// A detail worth showing only when asked for more (`-v`): a request and its answer.
    fn detail(&self, text: &str);
}

/// The live side of one task.
pub trait Tracker: Send + Sync {
    /// `n` more bytes or items done.
    fn advance(&self, n: u64);
    /// The task completed.
    fn finish(&self);
}

/// Where progress goes: an observer, or nowhere (the default).
#[derive(Clone, Default)]
pub struct Progress(Option<Arc<dyn Observer>>);

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Progress(observed)"
        } else {
            "Progress(none)"
        })
    }
}

impl Progress {
    /// Report to `observer`.
    pub fn new(observer: Arc<dyn Observer>) -> Self {
        Progress(Some(observer))
    }

    /// Start a task.
    pub fn task(&self, kind: Kind, label: impl Into<String>, total: Option<u64>) -> Task {
        Task(self.0.as_ref().map(|o| {
            Arc::from(o.start(TaskInfo {
                kind,
                label: label.into(),
                total,
            }))
        }))
    }

    /// A `-v` detail; `text` is only built when someone listens.
    pub fn detail(&self, text: impl FnOnce() -> String) {
        if let Some(o) = &self.0 {
            o.detail(&text());
        }
    }
}

/// A running task; cheap to clone (a stream and its caller can share it).
#[derive(Clone)]
pub struct Task(Option<Arc<dyn Tracker>>);

impl Task {
    /// `n` more bytes or items done.
    pub fn advance(&self, n: u64) {
        if let Some(t) = &self.0 {
            t.advance(n);
        }
    }

    /// The task completed (otherwise dropping the last clone abandons it).
    pub fn finish(&self) {
        if let Some(t) = &self.0 {
            t.finish();
        }
    }

    /// `reader`, counting the bytes read through it into this task.
    pub fn reader<R: std::io::Read>(&self, reader: R) -> Reader<R> {
        Reader {
            inner: reader,
            task: self.clone(),
        }
    }
}

/// A reader that reports the bytes read through it (see [`Task::reader`]).
pub struct Reader<R> {
    inner: R,
    task: Task,
}

impl<R: std::io::Read> std::io::Read for Reader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.task.advance(n as u64);
        Ok(n)
    }
}

#[cfg(test)]
pub(crate) mod recording {
    //! An observer that records what it is told, for tests of the reporting layers.
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    pub struct Recorder {
        pub events: Arc<Mutex<Vec<String>>>,
    }

    struct Recorded {
        label: String,
        events: Arc<Mutex<Vec<String>>>,
    }

    impl Observer for Recorder {
        fn start(&self, info: TaskInfo) -> Box<dyn Tracker> {
            self.events.lock().unwrap().push(format!(
                "start {:?} {} {:?}",
                info.kind, info.label, info.total
            ));
            Box::new(Recorded {
                label: info.label,
                events: self.events.clone(),
            })
        }
        fn detail(&self, text: &str) {
            self.events.lock().unwrap().push(format!("detail {text}"));
        }
    }

    impl Tracker for Recorded {
        fn advance(&self, n: u64) {
            self.events
                .lock()
                .unwrap()
                .push(format!("advance {} {n}", self.label));
        }
        fn finish(&self) {
            self.events
                .lock()
                .unwrap()
                .push(format!("finish {}", self.label));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reader_counts_what_passes_through_it() {
        let recorder = recording::Recorder::default();
        let events = recorder.events.clone();
        let progress = Progress::new(Arc::new(recorder));
        let task = progress.task(Kind::LayerRead, "layer", Some(5));
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut task.reader(&b"hello"[..]), &mut out).unwrap();
        task.finish();
        let events = events.lock().unwrap();
        assert_eq!(events[0], "start LayerRead layer Some(5)");
        assert!(events.contains(&"advance layer 5".to_string()));
        assert_eq!(events.last().unwrap(), "finish layer");
    }

    #[test]
    fn no_observer_costs_nothing_and_says_nothing() {
        let task = Progress::default().task(Kind::Upload, "x", None);
        task.advance(3);
        task.finish();
        Progress::default().detail(|| unreachable!("not built without a listener"));
    }
}
