//! A polymer reacted while it is read: each thread reads the next
//! [`CHUNK`] of the input into a buffer of its own, validates it, strips it
//! of the unit type to remove and reacts it in place while it is still in
//! its core's cache, then joins it onto the reacted polymer so far, in the
//! input's order, cancelling at the seam (the reaction of a concatenation
//! is the reaction of the concatenated reactions).
//!
//! So a gigabyte is never held whole: memory is the reacted polymer (a
//! fifth of the input, on puzzle-like inputs) plus a chunk per thread. Each
//! thread's chunk is allocated once and read into again and again, as `cat`
//! reuses its buffer: the only fresh pages, which the kernel must zero, are
//! the reacted polymer's, and no chunk moves between cores.
//!
//! The rules of a polymer are those of `validation`, applied chunk by chunk
//! in the input's order: reading, validating and observing a chunk is one
//! step that one thread at a time takes.

use std::io::{self, Read};
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};

use super::Polymer;
use super::kernel::{react_in_place, remove_in_place};
use super::sweep::{is_reacted, remove_from_reacted};
use super::unit::{CASE_BIT, InvalidUnit, UnitType};
use super::validation::Rules;

/// The bytes each thread reads and reacts at a time: small enough to stay
/// in its core's cache (a quarter of a 1 MiB L2) between being read and
/// being reacted, large enough that a chunk's turn is rare.
pub const CHUNK: usize = 256 << 10;

/// What to react, and how.
#[derive(Clone, Copy, Debug)]
pub struct Reaction {
    /// Threads reacting chunks at once (at least one: the caller's); `None`
    /// for as many as the cores this process may use, asked only once a
    /// whole chunk has been read (asking reads several files on Linux).
    pub threads: Option<usize>,
    /// A unit type removed before reacting.
    pub without: Option<UnitType>,
    /// The input's size, when known: the reacted polymer's buffer is
    /// reserved once (only what it holds is ever touched), and an input
    /// smaller than a chunk is read into a buffer of its size.
    pub size_hint: usize,
}

/// A polymer read and reacted.
#[derive(Debug)]
pub struct Reacted {
    /// The reacted polymer (without the removed unit type).
    pub polymer: Polymer,
    /// How many units the input had.
    pub input_length: usize,
}

/// Reads `reader` to its end and reacts it as `reaction` says; `observe`
/// sees every unit of the input, in order, before it reacts (to digest
/// it). Stops at the first byte that proves the input is not a polymer.
pub fn react_while_reading(
    reader: impl Read + Send,
    reaction: &Reaction,
    observe: &mut (dyn FnMut(&[u8]) + Send),
) -> io::Result<Result<Reacted, InvalidUnit>> {
    react_in_chunks(reader, reaction, observe, None, CHUNK)
}

/// Told each stretch of the reacted polymer as it is joined, in the order
/// of the joins: its offset in the polymer, and its bytes. A stretch may
/// start before the end of the last one (units cancelled back past it), so
/// writing each at its offset keeps a copy of the polymer as it grows, in
/// which what lies past the final length is stale. An error stops the
/// line, as a failed read does.
pub type Mirror<'m> = &'m (dyn Fn(usize, &[u8]) -> io::Result<()> + Sync);

/// [`react_while_reading`], with every stretch of the reacted polymer
/// handed to `mirror` as it is joined: a copy kept while the input is read
/// (orchestrate writes its children's file so), on the thread that joins
/// it, while the others react.
pub fn react_while_reading_mirrored(
    reader: impl Read + Send,
    reaction: &Reaction,
    observe: &mut (dyn FnMut(&[u8]) + Send),
    mirror: Mirror,
) -> io::Result<Result<Reacted, InvalidUnit>> {
    react_in_chunks(reader, reaction, observe, Some(mirror), CHUNK)
}

/// [`react_while_reading`] with chunks of `chunk` bytes (at least a
/// byte-order mark's three, so the first chunk tells whether it has one).
fn react_in_chunks(
    reader: impl Read + Send,
    reaction: &Reaction,
    observe: &mut (dyn FnMut(&[u8]) + Send),
    mirror: Option<Mirror>,
    chunk: usize,
) -> io::Result<Result<Reacted, InvalidUnit>> {
    debug_assert!(chunk >= 3);
    // A file smaller than a chunk gets a buffer of its size and a byte
    // more (to see its end): a small input touches no more memory than it
    // holds.
    let chunk = match reaction.size_hint {
        0 => chunk,
        hint => chunk.min(hint.saturating_add(1).max(4096)),
    };
    let reacted = reserve(
        crate::memory::buffer(reaction.size_hint).unwrap_or_default(),
        0,
    )?;
    let line = Line::new(reader, observe, mirror, reacted, chunk, reaction.without);
    std::thread::scope(|scope| -> io::Result<()> {
        // The caller's thread reads the first chunk: only an input longer
        // than that is worth asking for the cores, and another thread.
        let mut first = Worker::new(&line)?;
        let taken = first.take();
        if taken.is_some() && !line.input().ended {
            let threads = reaction
                .threads
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
            for _ in 1..threads {
                // A thread that cannot be started (or get its chunk) is
                // one fewer: the others read its share.
                let worker = std::thread::Builder::new().spawn_scoped(scope, || {
                    let _stops = StopsOnUnwind(&line);
                    if let Ok(mut worker) = Worker::new(&line) {
                        worker.run(None);
                    }
                });
                if worker.is_err() {
                    break;
                }
            }
        }
        let _stops = StopsOnUnwind(&line);
        first.run(taken);
        Ok(())
    })?;
    line.finish()
}

/// What stops the line: the input's first bad byte, a read that failed, or
/// memory that ran out.
#[derive(Debug)]
enum Failure {
    Invalid(InvalidUnit),
    Io(io::Error),
}

/// The threads' shared state: the input, read one chunk at a time in its
/// order, and the reacted polymer, joined in the same order.
struct Line<'o, R> {
    input: Mutex<Input<'o, R>>,
    output: Mutex<Output>,
    mirror: Option<Mirror<'o>>,
    /// Told each time a part was joined, or the line stopped.
    joined: Condvar,
    /// Set once anything failed: every thread stops at its next step.
    stopped: AtomicBool,
    chunk: usize,
    without: Option<UnitType>,
}

struct Input<'o, R> {
    reader: R,
    rules: Rules,
    observe: &'o mut (dyn FnMut(&[u8]) + Send),
    /// Chunks read so far: the next one's place in the order.
    read: usize,
    input_length: usize,
    /// Whether the input's end was read.
    ended: bool,
    failed: Option<Failure>,
}

struct Output {
    reacted: Vec<u8>,
    /// How much of `reacted` the mirror holds as it is.
    mirrored: usize,
    /// Chunks joined so far: whose turn it is.
    joined: usize,
    failed: Option<Failure>,
}

impl<'o, R> Line<'o, R> {
    fn new(
        reader: R,
        observe: &'o mut (dyn FnMut(&[u8]) + Send),
        mirror: Option<Mirror<'o>>,
        reacted: Vec<u8>,
        chunk: usize,
        without: Option<UnitType>,
    ) -> Self {
        Line {
            input: Mutex::new(Input {
                reader,
                rules: Rules::default(),
                observe,
                read: 0,
                input_length: 0,
                ended: false,
                failed: None,
            }),
            output: Mutex::new(Output {
                reacted,
                mirrored: 0,
                joined: 0,
                failed: None,
            }),
            mirror,
            joined: Condvar::new(),
            stopped: AtomicBool::new(false),
            chunk,
            without,
        }
    }

    /// What the line gave once every thread is done.
    fn finish(self) -> io::Result<Result<Reacted, InvalidUnit>> {
        let input = self.input.into_inner().unwrap_or_else(|p| p.into_inner());
        let output = self.output.into_inner().unwrap_or_else(|p| p.into_inner());
        // An input that is not a polymer is what to say, even where memory
        // ran out as well.
        match input.failed.or(output.failed) {
            Some(Failure::Invalid(invalid)) => Ok(Err(invalid)),
            Some(Failure::Io(err)) => Err(err),
            None => Ok(Ok(Reacted {
                // Only letters were joined (see `Rules::letters`).
                polymer: Polymer {
                    units: output.reacted,
                },
                input_length: input.input_length,
            })),
        }
    }

    fn input(&self) -> MutexGuard<'_, Input<'o, R>> {
        self.input.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn output(&self) -> MutexGuard<'_, Output> {
        self.output.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        // Under the lock, so no thread misses it between its check and its
        // wait.
        let _output = self.output();
        self.joined.notify_all();
    }

    fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }
}

/// Stops the line if its thread unwinds, so that no other thread waits
/// for a part that will never be joined.
struct StopsOnUnwind<'l, 'o, R>(&'l Line<'o, R>);

impl<R> Drop for StopsOnUnwind<'_, '_, R> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.stop();
        }
    }
}

/// One thread's part of the line, and its chunk, allocated once.
struct Worker<'l, 'o, R> {
    line: &'l Line<'o, R>,
    /// The chunk's buffer; the chunk itself starts at `at`, aligned.
    buffer: Vec<u8>,
    at: usize,
}

/// Where the system's copy into a read's buffer is fast: on AMD's Zen
/// cores, copying into an address that is not 32-byte aligned (as the
/// allocator's 16-byte alignment may give) takes six times as long.
pub const READ_ALIGN: usize = 64;

/// A chunk taken: its place in the order, and where its letters are.
type Taken = (usize, Range<usize>);

impl<'l, 'o, R: Read> Worker<'l, 'o, R> {
    /// A worker with its chunk, zeroed once here so that reads need never
    /// initialise it again.
    fn new(line: &'l Line<'o, R>) -> io::Result<Self> {
        let mut buffer = Vec::new();
        crate::memory::reserve_exact(&mut buffer, line.chunk + READ_ALIGN).map_err(|_| {
            crate::memory::exhausted(format_args!(
                "for a {}-byte buffer to read into",
                line.chunk
            ))
        })?;
        buffer.resize(line.chunk + READ_ALIGN, 0);
        let at = buffer.as_ptr().align_offset(READ_ALIGN);
        Ok(Worker { line, buffer, at })
    }

    fn chunk(&mut self) -> &mut [u8] {
        &mut self.buffer[self.at..self.at + self.line.chunk]
    }

    /// Takes chunks until the input ends or the line stops, starting with
    /// `taken` when the caller took one already.
    fn run(&mut self, mut taken: Option<Taken>) {
        loop {
            let Some((place, letters)) = taken.take().or_else(|| self.take()) else {
                return;
            };
            let part = self.react(letters);
            if !self.join(place, part) {
                return;
            }
        }
    }

    /// Reads the next chunk of the input, validates and observes it; `None`
    /// once the input ended or the line stopped.
    fn take(&mut self) -> Option<Taken> {
        let line = self.line;
        let mut input = line.input();
        if input.ended || line.is_stopped() {
            return None;
        }
        let input = &mut *input;
        let filled = match fill(&mut input.reader, self.chunk()) {
            Ok(filled) => filled,
            Err(err) => {
                input.failed = Some(Failure::Io(err));
                input.ended = true;
                line.stop();
                return None;
            }
        };
        if filled < line.chunk {
            input.ended = true;
        }
        let piece = &self.chunk()[..filled];
        let letters = input.rules.letters(piece);
        if let Some(invalid) = input.rules.invalid {
            input.failed = Some(Failure::Invalid(invalid));
            input.ended = true;
            line.stop();
            return None;
        }
        if filled == 0 {
            return None;
        }
        (input.observe)(&piece[letters.clone()]);
        input.input_length += letters.len();
        let place = input.read;
        input.read += 1;
        Some((place, letters))
    }

    /// Reacts the chunk's `letters` in place, without the line's unit type;
    /// returns where the reacted part is.
    fn react(&mut self, letters: Range<usize>) -> Range<usize> {
        let without = self.line.without;
        let part = &mut self.chunk()[letters.clone()];
        let len = match without {
            // A reacted polymer read without a letter (a child handed one
            // in a file): only the junctions the letter leaves can react,
            // three times faster than reacting the chunk whole.
            Some(unit_type) if is_reacted(part) => {
                remove_from_reacted(part, unit_type.letter() as u8)
            }
            _ => {
                let kept = without.map_or(part.len(), |unit_type| remove_in_place(part, unit_type));
                // SAFETY: `letters` holds only ASCII letters
                // (`Rules::letters`), and removal only drops units.
                unsafe { react_in_place(&mut part[..kept]) }
            }
        };
        letters.start..letters.start + len
    }

    /// Waits for the chunk at `place` to be next and joins its reacted
    /// `part`; false when the line stopped instead.
    fn join(&mut self, place: usize, part: Range<usize>) -> bool {
        let line = self.line;
        let mut output = line.output();
        while output.joined != place && !line.is_stopped() {
            output = line.joined.wait(output).unwrap_or_else(|p| p.into_inner());
        }
        if line.is_stopped() {
            return false;
        }
        let part = self.at + part.start..self.at + part.end;
        let out = &mut *output;
        let joined = join(&mut out.reacted, &self.buffer[part]).and_then(|kept| {
            let Some(mirror) = line.mirror else {
                return Ok(());
            };
            let from = out.mirrored.min(kept);
            mirror(from, &out.reacted[from..])?;
            out.mirrored = out.reacted.len();
            Ok(())
        });
        if let Err(err) = joined {
            output.failed = Some(Failure::Io(err));
            // Stopping takes the lock.
            drop(output);
            line.stop();
            return false;
        }
        output.joined += 1;
        line.joined.notify_all();
        true
    }
}

/// Reads into `chunk` until it is full or the input ends; how many bytes
/// it holds.
fn fill(reader: &mut impl Read, chunk: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < chunk.len() {
        match reader.read(&mut chunk[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(filled)
}

/// Joins a reacted part onto the reacted polymer so far: units cancel only
/// at the seam. Grows it by doubling where it must grow (its size is known
/// only for a file). Returns the length it was cut back to before the
/// part's rest was added.
fn join(reacted: &mut Vec<u8>, part: &[u8]) -> io::Result<usize> {
    let mut from = 0;
    while let (Some(&top), Some(&next)) = (reacted.last(), part.get(from)) {
        if top ^ next != CASE_BIT {
            break;
        }
        reacted.pop();
        from += 1;
    }
    let rest = &part[from..];
    if reacted.capacity() - reacted.len() < rest.len() {
        let more = rest.len().max(reacted.capacity());
        let kept = std::mem::take(reacted);
        *reacted = reserve(kept, more)?;
        crate::memory::advise_huge_pages(reacted.spare_capacity_mut());
    }
    let kept = reacted.len();
    reacted.extend_from_slice(rest);
    Ok(kept)
}

/// `buffer` with room for `additional` more bytes, or an error that says
/// memory ran out.
fn reserve(mut buffer: Vec<u8>, additional: usize) -> io::Result<Vec<u8>> {
    crate::memory::reserve_exact(&mut buffer, additional).map_err(|_| {
        crate::memory::exhausted(format_args!(
            "with {} bytes reacted (the reacted polymer must fit in memory)",
            buffer.len()
        ))
    })?;
    Ok(buffer)
}

#[cfg(test)]
mod tests {
    use super::super::testing::{Trickle, adversarial, naive_react};
    use super::super::{react_with_plain_stack, validate};
    use super::*;
    use proptest::prelude::*;

    /// What reading and reacting must give: validation, removal and the
    /// textbook stack, one after the other.
    fn expected(raw: &[u8], without: Option<UnitType>) -> Result<(Vec<u8>, usize), InvalidUnit> {
        let units = validate(raw)?;
        let kept: Vec<u8> = units
            .iter()
            .copied()
            .filter(|&u| without.is_none_or(|t| !t.matches(u)))
            .collect();
        Ok((react_with_plain_stack(&kept), units.len()))
    }

    fn streamed(
        raw: &[u8],
        threads: usize,
        without: Option<UnitType>,
        step: usize,
    ) -> Result<(Vec<u8>, usize), InvalidUnit> {
        let reaction = Reaction {
            threads: Some(threads),
            without,
            size_hint: raw.len(),
        };
        let mut observed = Vec::new();
        let reacted = react_while_reading(Trickle(raw, step), &reaction, &mut |units| {
            observed.extend_from_slice(units)
        })
        .unwrap()?;
        assert_eq!(
            observed,
            validate(raw).unwrap(),
            "every unit observed, in order"
        );
        Ok((reacted.polymer.into_units(), reacted.input_length))
    }

    /// Inputs that span several chunks and react across their seams: the
    /// adversarial shapes, repeated past a chunk, with and without a
    /// byte-order mark and trailing whitespace.
    #[test]
    fn long_inputs_react_across_chunk_seams_as_the_plain_stack_says() {
        // A chunk and more of one unit, then as many of its opposite: each
        // chunk of the second half cancels a whole chunk before it.
        let deep = [b"b".repeat(CHUNK + 7), b"B".repeat(CHUNK + 7)].concat();
        let raw = [&deep[..], b"xy"].concat();
        assert_eq!(
            streamed(&raw, 2, None, 1 << 16),
            Ok((b"xy".to_vec(), raw.len()))
        );
        for shape in adversarial() {
            if shape.is_empty() {
                continue;
            }
            let long = shape.repeat(2 * CHUNK / shape.len() + 3);
            for raw in [
                long.clone(),
                [b"\xEF\xBB\xBF", &long[..], b" \r\n"].concat(),
            ] {
                for (threads, without) in [(1, None), (3, None), (2, UnitType::from_ascii(b'a'))] {
                    assert_eq!(
                        streamed(&raw, threads, without, 1 << 16),
                        expected(&raw, without)
                    );
                }
            }
        }
    }

    #[test]
    fn a_bad_byte_in_a_later_chunk_is_reported_at_its_offset() {
        let mut raw = b"ab".repeat(CHUNK + 10);
        raw[CHUNK + 5] = b'7';
        assert_eq!(
            streamed(&raw, 2, None, 4096),
            Err(InvalidUnit {
                offset: CHUNK + 5,
                byte: b'7'
            })
        );
        // Whitespace that turns out not to be trailing, a chunk later.
        let mut raw = b"ab".repeat(CHUNK);
        raw[CHUNK - 1] = b'\n';
        raw[CHUNK..].fill(b' ');
        raw.push(b'x');
        assert_eq!(
            streamed(&raw, 1, None, 4096),
            Err(InvalidUnit {
                offset: CHUNK - 1,
                byte: b'\n'
            })
        );
    }

    #[test]
    fn every_core_is_asked_for_only_past_one_chunk_and_the_result_is_the_same() {
        let raw = crate::polymer::generate::polymer(3 * CHUNK + 12_345, 3);
        assert!(raw.iter().all(u8::is_ascii_alphabetic));
        for size in [1000, raw.len()] {
            let units = &raw[raw.len() - size..];
            let reaction = Reaction {
                threads: None,
                without: None,
                size_hint: 0,
            };
            let read = react_while_reading(units, &reaction, &mut |_| {})
                .unwrap()
                .unwrap();
            assert_eq!(read.polymer.units(), react_with_plain_stack(units));
            assert_eq!(read.input_length, size);
        }
    }

    #[test]
    fn a_size_hint_sizes_the_chunks_of_a_small_file_and_a_wrong_one_changes_no_answer() {
        let units = crate::polymer::generate::polymer(20_000, 4);
        for hint in [1, 100, 5000, units.len(), units.len() + 1, 10 * CHUNK] {
            for threads in [1, 2] {
                let reaction = Reaction {
                    threads: Some(threads),
                    without: UnitType::from_ascii(b'e'),
                    size_hint: hint,
                };
                let read = react_while_reading(&units[..], &reaction, &mut |_| {})
                    .unwrap()
                    .unwrap();
                assert_eq!(read.input_length, units.len(), "hint {hint}");
                assert_eq!(
                    read.polymer.units(),
                    expected(&units, reaction.without).unwrap().0,
                    "hint {hint}"
                );
            }
        }
    }

    #[test]
    fn an_endless_stream_of_non_letters_stops_at_once() {
        let reaction = Reaction {
            threads: Some(2),
            without: None,
            size_hint: 0,
        };
        let read = react_while_reading(io::repeat(0), &reaction, &mut |_| {}).unwrap();
        assert_eq!(read.unwrap_err(), InvalidUnit { offset: 0, byte: 0 });
    }

    /// A reader that gives what it is asked for, and notes where each
    /// read's buffer starts.
    struct Noting<'a>(std::sync::Mutex<(&'a [u8], Vec<usize>)>);

    impl Read for &Noting<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let (units, starts) = &mut *self.0.lock().unwrap();
            starts.push(buf.as_ptr() as usize);
            let n = units.len().min(buf.len());
            buf[..n].copy_from_slice(&units[..n]);
            *units = &units[n..];
            Ok(n)
        }
    }

    #[test]
    fn each_thread_reads_into_one_aligned_chunk_again_and_again() {
        let units = crate::polymer::generate::polymer(64 * 1000, 5);
        let noting = Noting(std::sync::Mutex::new((&units[..], Vec::new())));
        let reaction = Reaction {
            threads: Some(3),
            without: None,
            size_hint: 0,
        };
        let read = react_in_chunks(&noting, &reaction, &mut |_| {}, None, 1000)
            .unwrap()
            .unwrap();
        assert_eq!(read.polymer.units(), react_with_plain_stack(&units));
        let starts = noting.0.into_inner().unwrap().1;
        assert!(starts.len() > 64, "{} reads", starts.len());
        assert!(
            starts.iter().all(|start| start % READ_ALIGN == 0),
            "every read lands aligned"
        );
        let mut buffers = starts.clone();
        buffers.sort();
        buffers.dedup();
        assert!(
            buffers.len() <= 3,
            "one buffer per thread, reused: {} buffers",
            buffers.len()
        );
    }

    proptest! {
        /// Many seams: chunks of a few bytes on several threads, against
        /// the reaction as the puzzle states it.
        #[test]
        fn tiny_chunks_on_several_threads_react_as_the_naive_reaction_says(
            units in prop_oneof![
                3 => crate::polymer::testing::polymer(400),
                1 => (1usize..30, 1usize..6).prop_map(|(d, c)| crate::polymer::testing::nested(d, c)),
                // Reacted already, as a child's file is.
                2 => crate::polymer::testing::polymer(2000).prop_map(|u| naive_react(&u)),
            ],
            chunk in 3usize..40,
            threads in 1usize..5,
            letter in prop::option::of(prop::sample::select(b"abc".to_vec())),
            step in 1usize..64,
        ) {
            let without = letter.and_then(UnitType::from_ascii);
            let reaction = Reaction { threads: Some(threads), without, size_hint: 0 };
            let mut observed = Vec::new();
            let read = react_in_chunks(Trickle(&units, step), &reaction, &mut |u| observed.extend_from_slice(u), None, chunk)
                .unwrap()
                .unwrap();
            let kept: Vec<u8> = units.iter().copied().filter(|&u| without.is_none_or(|t| !t.matches(u))).collect();
            prop_assert_eq!(read.polymer.units(), &naive_react(&kept)[..]);
            prop_assert_eq!(read.input_length, units.len());
            prop_assert_eq!(observed, units);
        }

        /// Each stretch written at its offset, as into a file: the copy
        /// holds the reacted polymer, whatever cancelled back across seams.
        #[test]
        fn a_mirror_written_at_each_offset_holds_the_reacted_polymer(
            units in prop_oneof![
                3 => crate::polymer::testing::polymer(400),
                1 => (1usize..30, 1usize..6).prop_map(|(d, c)| crate::polymer::testing::nested(d, c)),
            ],
            chunk in 3usize..40,
            threads in 1usize..5,
        ) {
            let reaction = Reaction { threads: Some(threads), without: None, size_hint: 0 };
            let copy = Mutex::new(Vec::new());
            let mirror = |offset: usize, stretch: &[u8]| {
                let mut copy = copy.lock().unwrap();
                let end = offset + stretch.len();
                if copy.len() < end {
                    copy.resize(end, b'?');
                }
                copy[offset..end].copy_from_slice(stretch);
                Ok(())
            };
            let read = react_in_chunks(&units[..], &reaction, &mut |_| {}, Some(&mirror), chunk)
                .unwrap()
                .unwrap();
            let copy = copy.into_inner().unwrap();
            let reacted = read.polymer.units();
            prop_assert_eq!(&copy[..reacted.len()], reacted);
            prop_assert_eq!(reacted, &naive_react(&units)[..]);
        }
    }

    /// Bytes that are mostly letters, with whitespace, byte-order marks
    /// and any byte at all among them.
    fn almost_a_polymer() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(
            prop_oneof![8 => prop::sample::select(b"aAbBzZ".to_vec()),
                1 => prop::sample::select(b" \n\xEF\xBB\xBF".to_vec()),
                1 => any::<u8>()],
            0..300,
        )
    }

    proptest! {
        /// The rules across many seams: bad bytes, a byte-order mark and
        /// whitespace, in chunks of a few bytes on several threads.
        #[test]
        fn tiny_chunks_on_several_threads_meet_the_rules(
            bytes in almost_a_polymer(),
            bom in any::<bool>(),
            chunk in 3usize..40,
            threads in 1usize..5,
            letter in prop::option::of(prop::sample::select(b"abz".to_vec())),
        ) {
            let without = letter.and_then(UnitType::from_ascii);
            let raw = if bom { [b"\xEF\xBB\xBF", &bytes[..]].concat() } else { bytes };
            let reaction = Reaction { threads: Some(threads), without, size_hint: 0 };
            let read = react_in_chunks(&raw[..], &reaction, &mut |_| {}, None, chunk)
                .unwrap()
                .map(|read| (read.polymer.into_units(), read.input_length));
            prop_assert_eq!(read, expected(&raw, without));
        }
    }

    /// Runs `work` on a thread of its own and waits for it a minute at
    /// most: a hang fails the test instead of stopping it.
    fn within_a_minute<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
        let (done, result) = std::sync::mpsc::channel();
        std::thread::spawn(move || done.send(work()));
        result
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("the line did not hang")
    }

    /// A reader that gives `units` and then fails.
    struct FailsAfter(&'static [u8]);

    impl Read for FailsAfter {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return Err(io::Error::other("the disk went away"));
            }
            let n = self.0.len().min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    /// What a line on three threads says when its read (or else its
    /// mirror) fails in a later chunk: every thread stops, within a minute.
    fn failure_said(in_the_read: bool) -> String {
        within_a_minute(move || {
            let units: &'static [u8] = b"abcDE".repeat(2000).leak();
            let reaction = Reaction {
                threads: Some(3),
                without: None,
                size_hint: 0,
            };
            let mirror = |offset: usize, _: &[u8]| {
                if offset < 1000 {
                    Ok(())
                } else {
                    Err(io::Error::other("the memory went away"))
                }
            };
            let read = if in_the_read {
                react_in_chunks(FailsAfter(units), &reaction, &mut |_| {}, None, 64)
            } else {
                react_in_chunks(units, &reaction, &mut |_| {}, Some(&mirror), 64)
            };
            read.map(|_| ()).unwrap_err().to_string()
        })
    }

    #[test]
    fn a_read_that_fails_in_a_later_chunk_stops_every_thread_with_its_error() {
        assert_eq!(failure_said(true), "the disk went away");
    }

    #[test]
    fn a_mirror_that_fails_stops_every_thread_with_its_error() {
        assert_eq!(failure_said(false), "the memory went away");
    }

    #[test]
    fn a_panic_while_observing_a_later_chunk_reaches_the_caller_and_nothing_hangs() {
        let panicked = within_a_minute(|| {
            std::panic::catch_unwind(|| {
                let units = b"abcDE".repeat(2000);
                let reaction = Reaction {
                    threads: Some(3),
                    without: None,
                    size_hint: 0,
                };
                let mut seen = 0;
                let _ = react_in_chunks(
                    &units[..],
                    &reaction,
                    &mut |piece| {
                        seen += piece.len();
                        assert!(seen < 500, "the observer gives up");
                    },
                    None,
                    64,
                );
            })
            .is_err()
        });
        assert!(panicked);
    }

    proptest! {
        #[test]
        fn short_inputs_meet_the_rules_and_react_as_the_plain_stack_says(
            bytes in almost_a_polymer(),
            threads in 1usize..4,
            letter in prop::option::of(prop::sample::select(b"abz".to_vec())),
            step in 1usize..50,
        ) {
            let without = letter.and_then(UnitType::from_ascii);
            let raw = if threads == 3 { [b"\xEF\xBB\xBF", &bytes[..]].concat() } else { bytes };
            prop_assert_eq!(streamed(&raw, threads, without, step), expected(&raw, without));
        }
    }
}
