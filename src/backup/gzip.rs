//! gzip on every core, in flat memory. The input is cut into blocks, each compressed on its own
//! into a complete gzip member; members are written in order, one after the other. A file of
//! concatenated members is one valid gzip file (RFC 1952, §2.2): `gunzip -c` and every gzip
//! reader read it whole. Memory holds a few blocks per core, whatever the input's size.

use std::io::{self, Read, Write};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};

use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use sha2::{Digest, Sha256};

/// Bytes of input per gzip member: large enough that the ratio is gzip's own (within about
/// 1%), small enough that a few per core stay in memory.
pub const BLOCK: usize = 1 << 20;

/// What compressing produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compressed {
    /// Bytes read from the input.
    pub input_size: u64,
    /// Bytes written.
    pub size: u64,
    /// SHA-256 of the bytes written, hex.
    pub sha256: String,
    /// The last bytes of the input (a dump's completion marker is there).
    pub tail: Vec<u8>,
}

/// How far a long job has come.
#[derive(Debug, Clone, Copy, Default)]
pub struct Progress {
    pub read: u64,
    pub written: u64,
}

/// A block of input and its place in the order.
type Block = (u64, Vec<u8>);

/// Reads up to `BLOCK` bytes (fewer only at the end).
fn read_block(input: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut block = Vec::with_capacity(BLOCK);
    input.take(BLOCK as u64).read_to_end(&mut block)?;
    Ok(block)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compresses `input` into `output` with `threads` workers at gzip `level` (1–9), calling
/// `progress` now and then.
pub fn compress(
    mut input: impl Read + Send,
    output: &mut impl Write,
    level: u32,
    threads: usize,
    progress: &mut dyn FnMut(Progress),
) -> io::Result<Compressed> {
    let threads = threads.max(1);
    // Bounded queues: the reader waits when the workers or the writer fall behind.
    let (work_tx, work_rx): (SyncSender<Block>, Receiver<Block>) = sync_channel(threads * 2);
    let work_rx = Arc::new(Mutex::new(work_rx));
    let (done_tx, done_rx) = sync_channel::<(u64, io::Result<Vec<u8>>)>(threads * 2);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let (rx, tx) = (Arc::clone(&work_rx), done_tx.clone());
            scope.spawn(move || compressor(&rx, &tx, level));
        }
        drop(done_tx);
        // The reader runs on its own thread; this one writes, in order.
        let reader = scope.spawn(move || read_blocks(&mut input, &work_tx));
        let (written, hash, failure) = write_in_order(&done_rx, output, progress);
        let (input_size, tail) = reader
            .join()
            .map_err(|_| io::Error::other("the reader panicked"))??;
        if let Some(e) = failure {
            return Err(e);
        }
        progress(Progress {
            read: input_size,
            written,
        });
        Ok(Compressed {
            input_size,
            size: written,
            sha256: hex(&hash.finalize()),
            tail,
        })
    })
}

/// A worker: compresses the blocks it takes into gzip members, until the queue closes.
fn compressor(
    rx: &Mutex<Receiver<Block>>,
    tx: &SyncSender<(u64, io::Result<Vec<u8>>)>,
    level: u32,
) {
    loop {
        let job = rx.lock().map(|r| r.recv());
        let Ok(Ok((seq, block))) = job else {
            return;
        };
        let mut enc = GzEncoder::new(Vec::with_capacity(block.len() / 2), Compression::new(level));
        let member = enc.write_all(&block).and_then(|()| enc.finish());
        if tx.send((seq, member)).is_err() {
            return;
        }
    }
}

/// Reads `input` in blocks, numbered, into the queue; returns how much it read and its last
/// 4 KB (where pg_dump's completion line is).
fn read_blocks(input: &mut impl Read, work_tx: &SyncSender<Block>) -> io::Result<(u64, Vec<u8>)> {
    let mut seq = 0u64;
    let mut read = 0u64;
    let mut tail = Vec::new();
    loop {
        let block = read_block(input)?;
        // An empty input still makes one (empty) member: a gzip file of nothing.
        if block.is_empty() && seq > 0 {
            return Ok((read, tail));
        }
        let last = block.len() < BLOCK;
        read += block.len() as u64;
        let keep = block.len().min(4096);
        tail = [
            &tail[tail.len().saturating_sub(4096 - keep)..],
            &block[block.len() - keep..],
        ]
        .concat();
        if work_tx.send((seq, block)).is_err() {
            return Err(io::Error::other("the compressors stopped"));
        }
        seq += 1;
        if last {
            return Ok((read, tail));
        }
    }
}

/// Writes the members in their blocks' order as they come back, hashing them; returns the
/// bytes written, the hash, and the first failure (the members still drain after it).
fn write_in_order(
    done_rx: &Receiver<(u64, io::Result<Vec<u8>>)>,
    output: &mut impl Write,
    progress: &mut dyn FnMut(Progress),
) -> (u64, Sha256, Option<io::Error>) {
    let mut pending = std::collections::BTreeMap::new();
    let mut next = 0u64;
    let mut hash = Sha256::new();
    let mut written = 0u64;
    let mut failure = None;
    for (seq, member) in done_rx.iter() {
        match member {
            Ok(m) => {
                pending.insert(seq, m);
            }
            Err(e) => {
                failure.get_or_insert(e);
                continue;
            }
        }
        while let Some(m) = pending.remove(&next) {
            if failure.is_none() {
                if let Err(e) = output.write_all(&m) {
                    failure = Some(e);
                }
            }
            hash.update(&m);
            written += m.len() as u64;
            next += 1;
            progress(Progress {
                read: next * BLOCK as u64,
                written,
            });
        }
    }
    (written, hash, failure)
}

/// What reading a gzip file back found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Bytes after decompression.
    pub input_size: u64,
    /// Bytes of the file.
    pub size: u64,
    /// SHA-256 of the file, hex.
    pub sha256: String,
    /// The last bytes after decompression.
    pub tail: Vec<u8>,
}

/// Reads a gzip file whole: every member's CRC and length are checked by the decoder. The
/// file's SHA-256 is computed on the way.
pub fn verify(file: impl Read, progress: &mut dyn FnMut(Progress)) -> io::Result<Verified> {
    struct Hashing<R> {
        inner: R,
        hash: Sha256,
        size: u64,
    }
    impl<R: Read> Read for Hashing<R> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.inner.read(buf)?;
            self.hash.update(&buf[..n]);
            self.size += n as u64;
            Ok(n)
        }
    }
    let mut decoder = MultiGzDecoder::new(io::BufReader::with_capacity(
        BLOCK,
        Hashing {
            inner: file,
            hash: Sha256::new(),
            size: 0,
        },
    ));
    let mut buf = vec![0u8; BLOCK];
    let mut total = 0u64;
    let mut tail: Vec<u8> = Vec::new();
    let mut since = 0u64;
    loop {
        let n = decoder.read(&mut buf)?;
        if n == 0 {
            break;
        }
        total += n as u64;
        since += n as u64;
        let keep = n.min(4096);
        tail = [
            &tail[tail.len().saturating_sub(4096 - keep)..],
            &buf[n - keep..n],
        ]
        .concat();
        if since >= 64 * BLOCK as u64 {
            since = 0;
            progress(Progress {
                read: total,
                written: 0,
            });
        }
    }
    let hashing = decoder.into_inner().into_inner();
    Ok(Verified {
        input_size: total,
        size: hashing.size,
        sha256: hex(&hashing.hash.finalize()),
        tail,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| b"INSERT INTO t VALUES (42, 'some text');\n"[i % 40] ^ ((i / 997) as u8 & 1))
            .collect()
    }

    #[test]
    fn members_in_order_make_one_gzip_file_any_reader_reads() {
        for len in [0, 1, BLOCK - 1, BLOCK, 3 * BLOCK + 17] {
            let input = sample(len);
            let mut out = Vec::new();
            let c = compress(&input[..], &mut out, 6, 3, &mut |_| {}).unwrap();
            assert_eq!(c.input_size, len as u64);
            assert_eq!(c.size, out.len() as u64);
            assert_eq!(c.tail, input[len.saturating_sub(4096)..]);
            // Read back with flate2's multi-member reader, and with gzip(1) when present.
            let mut back = Vec::new();
            MultiGzDecoder::new(&out[..])
                .read_to_end(&mut back)
                .unwrap();
            assert!(back == input, "round trip of {len} bytes");
            let v = verify(&out[..], &mut |_| {}).unwrap();
            assert_eq!(
                (v.input_size, v.size, v.sha256.clone()),
                (len as u64, c.size, c.sha256.clone())
            );
            assert_eq!(v.tail, c.tail);
            if len > 0
                && std::process::Command::new("gzip")
                    .arg("--version")
                    .output()
                    .is_ok()
            {
                let dir = tempfile::tempdir().unwrap();
                let f = dir.path().join("x.gz");
                std::fs::write(&f, &out).unwrap();
                let un = std::process::Command::new("gzip")
                    .arg("-dc")
                    .arg(&f)
                    .output()
                    .unwrap();
                assert!(
                    un.status.success() && un.stdout == input,
                    "gzip -dc of {len} bytes"
                );
            }
        }
    }

    #[test]
    fn a_damaged_file_fails_verification() {
        let input = sample(2 * BLOCK + 5);
        let mut out = Vec::new();
        compress(&input[..], &mut out, 1, 2, &mut |_| {}).unwrap();
        let mut flipped = out.clone();
        let middle = flipped.len() / 2;
        flipped[middle] ^= 0x55;
        assert!(verify(&flipped[..], &mut |_| {}).is_err());
        let truncated = &out[..out.len() - 3];
        assert!(verify(truncated, &mut |_| {}).is_err());
    }
}
