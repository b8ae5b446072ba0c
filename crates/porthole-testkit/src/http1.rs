//! The few pieces of HTTP/1.1 the kit needs on both sides of a socket: reading a message head,
//! framing a body (Content-Length, chunked, or until close) and writing simple answers.
//!
//! Hand-written on purpose: plain http on loopback is all the kit speaks, and a client crate
//! with its TLS stack would cost minutes of build time on a 2-core machine.

use std::io::{self, BufRead, Write};

/// The largest message head accepted; a registry never sends anything near it.
const MAX_HEAD: usize = 64 * 1024;

/// A parsed message head: the start line and the header fields in order.
#[derive(Debug)]
pub(crate) struct Head {
    pub(crate) start_line: String,
    pub(crate) headers: Vec<(String, String)>,
}

impl Head {
    /// The first value of a header, compared case-insensitively.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Reads one message head. `Ok(None)` when the peer closed before sending anything.
pub(crate) fn read_head(reader: &mut impl BufRead) -> io::Result<Option<Head>> {
    let mut start_line = String::new();
    // Skip stray empty lines between messages, as RFC 9112 section 2.2 allows.
    while start_line.trim().is_empty() {
        start_line.clear();
        if reader.read_line(&mut start_line)? == 0 {
            return Ok(None);
        }
    }
    let mut headers = Vec::new();
    let mut total = start_line.len();
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line)?;
        total += n;
        if n == 0 {
            return Err(invalid("connection closed inside a message head"));
        }
        if total > MAX_HEAD {
            return Err(invalid("message head too large"));
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    Ok(Some(Head {
        start_line: start_line.trim_end().to_string(),
        headers,
    }))
}

pub(crate) fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_string())
}

/// How the body after a head is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No body at all (HEAD answers, 204, 304, requests without a length).
    None,
    /// Exactly this many bytes.
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
    /// Everything until the peer closes (responses only).
    UntilClose,
}

impl Framing {
    /// The framing of a message with this head. `is_response` decides what "no length" means:
    /// nothing for a request, read-to-close for a response.
    pub(crate) fn of(head: &Head, is_response: bool) -> io::Result<Self> {
        let chunked = head
            .get("transfer-encoding")
            .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"));
        if chunked {
            return Ok(Self::Chunked);
        }
        match head.get("content-length") {
            Some(len) => len
                .parse()
                .map(Self::Length)
                .map_err(|_| invalid("bad Content-Length")),
            None if is_response => Ok(Self::UntilClose),
            None => Ok(Self::None),
        }
    }
}

/// Reads a body piece by piece according to its framing.
#[derive(Debug)]
pub(crate) struct BodyReader<R> {
    reader: R,
    framing: Framing,
    /// Bytes left in the current chunk or in the whole Content-Length body.
    remaining: u64,
    done: bool,
}

impl<R: BufRead> BodyReader<R> {
    pub(crate) fn new(reader: R, framing: Framing) -> Self {
        let remaining = match framing {
            Framing::Length(n) => n,
            _ => 0,
        };
        Self {
            reader,
            framing,
            remaining,
            done: framing == Framing::None || framing == Framing::Length(0),
        }
    }

    /// The next piece of at most `max` bytes; `None` at the end of the body.
    pub(crate) fn next_piece(&mut self, max: usize) -> io::Result<Option<Vec<u8>>> {
        if self.done {
            return Ok(None);
        }
        match self.framing {
            Framing::None => Ok(None),
            Framing::Length(_) => self.read_counted(max),
            Framing::UntilClose => self.read_until_close(max),
            Framing::Chunked => self.read_chunked(max),
        }
    }

    /// Reads the whole rest of the body (for small bodies: token requests, test stubs).
    pub(crate) fn read_all(&mut self) -> io::Result<Vec<u8>> {
        let mut all = Vec::new();
        while let Some(piece) = self.next_piece(64 * 1024)? {
            all.extend_from_slice(&piece);
        }
        Ok(all)
    }

    fn read_counted(&mut self, max: usize) -> io::Result<Option<Vec<u8>>> {
        let want = self.remaining.min(max as u64) as usize;
        let mut buf = vec![0; want];
        let n = self.reader.read(&mut buf)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "connection closed with {} body bytes missing",
                    self.remaining
                ),
            ));
        }
        buf.truncate(n);
        self.remaining -= n as u64;
        if self.remaining == 0 {
            if self.framing == Framing::Chunked {
                // Each chunk ends with CRLF; the next size line follows.
                self.expect_crlf()?;
            } else {
                self.done = true;
            }
        }
        Ok(Some(buf))
    }

    fn read_until_close(&mut self, max: usize) -> io::Result<Option<Vec<u8>>> {
        let mut buf = vec![0; max];
        let n = self.reader.read(&mut buf)?;
        if n == 0 {
            self.done = true;
            return Ok(None);
        }
        buf.truncate(n);
        Ok(Some(buf))
    }

    fn read_chunked(&mut self, max: usize) -> io::Result<Option<Vec<u8>>> {
        if self.remaining == 0 {
            let size = self.read_chunk_size()?;
            if size == 0 {
                self.skip_trailers()?;
                self.done = true;
                return Ok(None);
            }
            self.remaining = size;
        }
        self.read_counted(max)
    }

    fn read_chunk_size(&mut self) -> io::Result<u64> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(invalid("connection closed inside a chunked body"));
        }
        let hex = line.trim().split(';').next().unwrap_or("").trim();
        u64::from_str_radix(hex, 16).map_err(|_| invalid("bad chunk size"))
    }

    fn expect_crlf(&mut self) -> io::Result<()> {
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        if line.trim().is_empty() {
            Ok(())
        } else {
            Err(invalid("chunk not followed by CRLF"))
        }
    }

    fn skip_trailers(&mut self) -> io::Result<()> {
        loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
                return Ok(());
            }
        }
    }
}

/// Writes a complete response with a Content-Length and `Connection: close`.
pub(crate) fn write_response(
    out: &mut impl Write,
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
) -> io::Result<()> {
    write_response_head(out, status, headers, body.len())?;
    out.write_all(body)?;
    out.flush()
}

/// Writes the head of a complete response whose body is `content_length` bytes, with
/// `Connection: close`: alone, it answers a `HEAD`.
pub(crate) fn write_response_head(
    out: &mut impl Write,
    status: u16,
    headers: &[(String, String)],
    content_length: usize,
) -> io::Result<()> {
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {content_length}\r\nConnection: close\r\n\r\n"
    ));
    out.write_all(head.as_bytes())?;
    out.flush()
}

/// A reason phrase; clients ignore it, but people reading captures do not.
pub(crate) fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_of(raw: &[u8], framing: Framing, piece: usize) -> Vec<u8> {
        let mut reader = BodyReader::new(raw, framing);
        let mut all = Vec::new();
        while let Some(p) = reader.next_piece(piece).unwrap() {
            assert!(p.len() <= piece);
            all.extend_from_slice(&p);
        }
        all
    }

    #[test]
    fn decodes_chunked_bodies_in_small_pieces() {
        let raw = b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\n";
        assert_eq!(body_of(raw, Framing::Chunked, 2), b"hello world");
    }

    #[test]
    fn counted_and_close_delimited_bodies() {
        assert_eq!(body_of(b"abcdefXYZ", Framing::Length(6), 4), b"abcdef");
        assert_eq!(body_of(b"abc", Framing::UntilClose, 2), b"abc");
        assert_eq!(body_of(b"abc", Framing::None, 2), b"");
        let mut short = BodyReader::new(&b"ab"[..], Framing::Length(5));
        short.next_piece(10).unwrap();
        assert!(short.next_piece(10).is_err());
    }

    #[test]
    fn parses_heads() {
        let mut raw = &b"\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-A:  b \r\n\r\nabc"[..];
        let head = read_head(&mut raw).unwrap().unwrap();
        assert_eq!(head.start_line, "HTTP/1.1 200 OK");
        assert_eq!(head.get("x-a"), Some("b"));
        assert_eq!(Framing::of(&head, true).unwrap(), Framing::Length(3));
        assert!(read_head(&mut &b""[..]).unwrap().is_none());
    }
}
