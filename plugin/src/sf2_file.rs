//! A SoundFont file's RIFF structure, checked before `rustysynth` reads it: `rustysynth`
//! allocates whatever a chunk's size field says (a 120-byte file claiming a 4 GB chunk made
//! it allocate 4 GB), so every chunk it will read must lie within the file, and the three
//! lists it reads (`INFO`, `sdta`, `pdta`) must be there, in its order. Reads only the
//! chunk headers (seeking over their data), so a 100 MB font costs a few dozen reads.
//!
//! Plain functions over any `Read + Seek`. Runs on the SoundFont loader thread.

use std::io::{Read, Seek, SeekFrom};

/// What is wrong with a file that is not a sound SoundFont's structure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StructureError {
    #[error("it is not a RIFF `sfbk` file")]
    NotSf2,
    #[error("the chunk `{id}` at byte {at} claims {size} bytes, past the file's end ({len} bytes)")]
    PastTheEnd { id: String, at: u64, size: u64, len: u64 },
    #[error("the file ends inside a chunk's header at byte {0}")]
    CutShort(u64),
    #[error("the list `{0}` is missing")]
    Missing(&'static str),
    #[error("the file could not be read: {0}")]
    Read(String),
}

/// The lists `rustysynth` reads, in its order.
const LISTS: [&[u8; 4]; 3] = [b"INFO", b"sdta", b"pdta"];

/// Check that `file` (`len` bytes) is a RIFF `sfbk` file whose `INFO`, `sdta` and `pdta`
/// lists, and every chunk within them, lie within it.
pub fn check<F: Read + Seek>(file: &mut F, len: u64) -> Result<(), StructureError> {
    let read = |e: std::io::Error| StructureError::Read(e.to_string());
    file.seek(SeekFrom::Start(0)).map_err(read)?;
    let mut head = [0u8; 12];
    if len < 12 || file.read_exact(&mut head).is_err() || &head[0..4] != b"RIFF" || &head[8..12] != b"sfbk" {
        return Err(StructureError::NotSf2);
    }
    let mut at = 12u64;
    for list in LISTS {
        let (id, size) = header(file, at, len)?;
        let mut kind = [0u8; 4];
        if &id != b"LIST" || size < 4 || file.read_exact(&mut kind).is_err() || &kind != list {
            return Err(StructureError::Missing(std::str::from_utf8(list).unwrap_or("?")));
        }
        let end = at + 8 + size;
        let mut inner = at + 12;
        while inner + 8 <= end {
            let (_, size) = header(file, inner, end)?;
            inner += 8 + size;
        }
        at = end;
    }
    Ok(())
}

/// The chunk header at byte `at`: its id and size, the size checked against `end`.
fn header<F: Read + Seek>(file: &mut F, at: u64, end: u64) -> Result<([u8; 4], u64), StructureError> {
    let mut bytes = [0u8; 8];
    file.seek(SeekFrom::Start(at)).map_err(|e| StructureError::Read(e.to_string()))?;
    if at + 8 > end || file.read_exact(&mut bytes).is_err() {
        return Err(StructureError::CutShort(at));
    }
    let id: [u8; 4] = bytes[0..4].try_into().expect("four bytes");
    let size = u32::from_le_bytes(bytes[4..8].try_into().expect("four bytes")) as u64;
    if at + 8 + size > end {
        let id = String::from_utf8_lossy(&id).into_owned();
        return Err(StructureError::PastTheEnd { id, at, size, len: end });
    }
    Ok((id, size))
}

/// A small SoundFont that `rustysynth` plays: one preset (GM program 0) of one instrument
/// of one sample, a 100-sample saw wave. For tests of the loader.
pub fn tiny_font() -> Vec<u8> {
    fn chunk(id: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut out = id.to_vec();
        out.extend((data.len() as u32).to_le_bytes());
        out.extend(data);
        out
    }
    fn list(kind: &[u8; 4], chunks: &[Vec<u8>]) -> Vec<u8> {
        let mut data = kind.to_vec();
        chunks.iter().for_each(|c| data.extend(c));
        chunk(b"LIST", &data)
    }
    fn name(text: &str) -> Vec<u8> {
        let mut n = text.as_bytes().to_vec();
        n.resize(20, 0);
        n
    }
    let u16s = |v: &[u16]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let u32s = |v: &[u32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let samples: Vec<u8> = (0..146i16).flat_map(|i| (((i % 20) - 10) * 1000).to_le_bytes()).collect();
    // Preset headers: name, preset, bank, first bag, library, genre, morphology; then EOP.
    let mut phdr = [name("Saw"), u16s(&[0, 0, 0]), u32s(&[0, 0, 0])].concat();
    phdr.extend([name("EOP"), u16s(&[0, 0, 1]), u32s(&[0, 0, 0])].concat());
    // Generators: a preset zone pointing at instrument 0 (41), an instrument zone at
    // sample 0 (53), looping (54 = 1).
    let pgen = u16s(&[41, 0, 0, 0]);
    let igen = u16s(&[54, 1, 53, 0, 0, 0]);
    let mut inst = [name("Saw"), u16s(&[0])].concat();
    inst.extend([name("EOI"), u16s(&[1])].concat());
    let mut shdr = [name("saw"), u32s(&[0, 100, 20, 80, 44_100]), vec![60, 0], u16s(&[0, 1])].concat();
    shdr.extend([name("EOS"), vec![0; 26]].concat());
    let body = [
        b"sfbk".to_vec(),
        list(b"INFO", &[chunk(b"ifil", &u16s(&[2, 1])), chunk(b"INAM", b"tiny\0\0")]),
        list(b"sdta", &[chunk(b"smpl", &samples)]),
        list(
            b"pdta",
            &[
                chunk(b"phdr", &phdr),
                chunk(b"pbag", &u16s(&[0, 0, 1, 0])),
                chunk(b"pmod", &[0; 10]),
                chunk(b"pgen", &pgen),
                chunk(b"inst", &inst),
                chunk(b"ibag", &u16s(&[0, 0, 2, 0])),
                chunk(b"imod", &[0; 10]),
                chunk(b"igen", &igen),
                chunk(b"shdr", &shdr),
            ],
        ),
    ]
    .concat();
    chunk(b"RIFF", &body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn checked(bytes: &[u8]) -> Result<(), StructureError> {
        check(&mut Cursor::new(bytes), bytes.len() as u64)
    }

    #[test]
    fn the_tiny_font_is_sound_and_rustysynth_reads_it() {
        let font = tiny_font();
        assert_eq!(checked(&font), Ok(()));
        let read = rustysynth::SoundFont::new(&mut Cursor::new(&font)).unwrap();
        assert_eq!(read.get_presets().len(), 1);
    }

    #[test]
    fn a_chunk_claiming_more_than_the_file_is_refused() {
        // The audit's 120-byte file: a valid head whose sample chunk claims 4 GB.
        let mut font = tiny_font();
        let smpl = font.windows(4).position(|w| w == b"smpl").unwrap();
        font[smpl + 4..smpl + 8].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
        font.truncate(120);
        assert!(matches!(checked(&font), Err(StructureError::PastTheEnd { .. })), "{:?}", checked(&font));
        // A list that claims more than the file, and a file cut short.
        let mut font = tiny_font();
        let pdta = font.windows(4).position(|w| w == b"pdta").unwrap();
        font[pdta - 4..pdta].copy_from_slice(&1_000_000u32.to_le_bytes());
        assert!(matches!(checked(&font), Err(StructureError::PastTheEnd { .. })));
        let font = tiny_font();
        assert!(checked(&font[..font.len() - 3]).is_err());
    }

    #[test]
    fn other_files_are_not_soundfonts() {
        assert_eq!(checked(b""), Err(StructureError::NotSf2));
        assert_eq!(checked(b"RIFF\x04\0\0\0WAVE"), Err(StructureError::NotSf2));
        let mut font = tiny_font();
        let info = font.windows(4).position(|w| w == b"INFO").unwrap();
        font[info..info + 4].copy_from_slice(b"JUNK");
        assert_eq!(checked(&font), Err(StructureError::Missing("INFO")));
    }
}
