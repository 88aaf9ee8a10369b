//! Conversion of the parser's character indexes into byte offsets.
//!
//! The YAML parser counts positions in Unicode scalar values (characters), while our
//! spans are byte offsets. For ASCII text the two agree; otherwise we keep the byte
//! offset of every [`STRIDE`]-th character and walk at most `STRIDE - 1` characters from
//! there, so a conversion costs O(1) and the table costs 4 bytes per `STRIDE` characters.

/// Characters between two checkpoints.
const STRIDE: usize = 64;

/// Maps character indexes of one text to byte offsets.
#[derive(Debug)]
pub(crate) struct CharIndex<'a> {
    text: &'a str,
    /// Byte offset of character `k * STRIDE`, or `None` when the text is ASCII.
    checkpoints: Option<Vec<u32>>,
}

impl<'a> CharIndex<'a> {
    /// Indexes a text (at most `u32::MAX` bytes long; longer offsets saturate).
    pub(crate) fn new(text: &'a str) -> Self {
        let checkpoints = if text.is_ascii() {
            None
        } else {
            Some(
                text.char_indices()
                    .step_by(STRIDE)
                    .map(|(b, _)| u32::try_from(b).unwrap_or(u32::MAX))
                    .collect(),
            )
        };
        CharIndex { text, checkpoints }
    }

    /// The byte offset of the character with this index; indexes past the end map to
    /// the length of the text.
    pub(crate) fn byte(&self, char_index: usize) -> u32 {
        let len = u32::try_from(self.text.len()).unwrap_or(u32::MAX);
        let Some(checkpoints) = &self.checkpoints else {
            return u32::try_from(char_index).map_or(len, |i| i.min(len));
        };
        let Some(&base) = checkpoints.get(char_index / STRIDE) else {
            return len;
        };
        let rest = self.text.get(base as usize..).unwrap_or("");
        match rest.char_indices().nth(char_index % STRIDE) {
            Some((b, _)) => base.saturating_add(u32::try_from(b).unwrap_or(u32::MAX)),
            None => len,
        }
    }

    /// The byte length of the character starting at `byte`, or 0 at the end of the text.
    pub(crate) fn char_len_at(&self, byte: u32) -> u32 {
        self.text
            .get(byte as usize..)
            .and_then(|s| s.chars().next())
            .map_or(0, |c| c.len_utf8() as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_is_identity() {
        let ix = CharIndex::new("abc");
        assert_eq!(ix.byte(0), 0);
        assert_eq!(ix.byte(2), 2);
        assert_eq!(ix.byte(3), 3);
        assert_eq!(ix.byte(99), 3);
    }

    #[test]
    fn non_ascii_maps_every_index() {
        // Mixed widths (1, 2, 3 and 4 bytes) over several strides.
        let text: String = (0..500).map(|i| ['a', 'é', '€', '😀'][i % 4]).collect();
        let ix = CharIndex::new(&text);
        for (ci, (b, _)) in text.char_indices().enumerate() {
            assert_eq!(ix.byte(ci), b as u32, "char {ci}");
        }
        assert_eq!(ix.byte(500), text.len() as u32);
        assert_eq!(ix.byte(10_000), text.len() as u32);
        assert_eq!(ix.char_len_at(1), 2);
        assert_eq!(ix.char_len_at(text.len() as u32), 0);
    }
}
