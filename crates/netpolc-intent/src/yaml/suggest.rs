//! "Did you mean …?" suggestions by edit distance.

/// The candidate closest to `word`, if one is close enough to be a likely typo.
///
/// Distances are Levenshtein distances over characters, ignoring ASCII case. A candidate
/// qualifies when its distance is at most 2, or at most a third of the length of `word`
/// when that is larger; for words of up to three characters the bound is 1, so that
/// short words are not "corrected" into unrelated ones. The smallest distance wins; on a
/// tie, the candidate that comes first.
///
/// ```
/// use netpolc_intent::yaml::suggest;
/// assert_eq!(suggest("fromm", &["from", "to"]), Some("from"));
/// let groups: Vec<&str> = vec!["frontend", "backend"];
/// assert_eq!(suggest("backnd", &groups), Some("backend"));
/// assert_eq!(suggest("xyz", &["from", "to"]), None);
/// ```
pub fn suggest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let word: Vec<char> = word.chars().map(|c| c.to_ascii_lowercase()).collect();
    let limit = if word.len() <= 3 {
        1
    } else {
        (word.len() / 3).max(2)
    };
    let mut best: Option<(usize, &'a str)> = None;
    for &candidate in candidates {
        let cand: Vec<char> = candidate.chars().map(|c| c.to_ascii_lowercase()).collect();
        let bound = best.map_or(limit, |(d, _)| d.saturating_sub(1).min(limit));
        if let Some(d) = distance_within(&word, &cand, bound) {
            if best.is_none_or(|(b, _)| d < b) {
                best = Some((d, candidate));
            }
        }
    }
    best.map(|(_, c)| c)
}

/// The Levenshtein distance between `a` and `b` if it is at most `bound`.
fn distance_within(a: &[char], b: &[char], bound: usize) -> Option<usize> {
    if a.len().abs_diff(b.len()) > bound {
        return None;
    }
    // One row of the dynamic programme at a time.
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        let mut row_min = cur[0];
        for (j, cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != cb);
            cur[j + 1] = substitute.min(prev[j + 1] + 1).min(cur[j] + 1);
            row_min = row_min.min(cur[j + 1]);
        }
        if row_min > bound {
            return None;
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    let d = prev[b.len()];
    (d <= bound).then_some(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        let d = |a: &str, b: &str| {
            let a: Vec<char> = a.chars().collect();
            let b: Vec<char> = b.chars().collect();
            distance_within(&a, &b, 100)
        };
        assert_eq!(d("kitten", "sitting"), Some(3));
        assert_eq!(d("", "abc"), Some(3));
        assert_eq!(d("abc", "abc"), Some(0));
        assert_eq!(d("é", "e"), Some(1));
    }

    #[test]
    fn suggestions() {
        assert_eq!(suggest("fromm", &["from", "to"]), Some("from"));
        assert_eq!(suggest("From", &["to", "from"]), Some("from"));
        assert_eq!(suggest("prots", &["ports", "protocol"]), Some("ports"));
        assert_eq!(
            suggest("namespaceLabel", &["namespaceLabels", "namespace"]),
            Some("namespaceLabels")
        );
        // Long words tolerate a third of their length.
        assert_eq!(
            suggest("matchExprssionz", &["matchExpressions"]),
            Some("matchExpressions")
        );
        // Short words only one edit.
        assert_eq!(suggest("ot", &["to"]), None);
        assert_eq!(suggest("tp", &["to"]), Some("to"));
        assert_eq!(suggest("xyz", &["from", "to"]), None);
        assert_eq!(suggest("anything", &[]), None);
        // Ties go to the first candidate.
        assert_eq!(suggest("bat", &["cat", "hat"]), Some("cat"));
        let owned = ["frontend".to_string(), "backend".to_string()];
        let names: Vec<&str> = owned.iter().map(String::as_str).collect();
        assert_eq!(suggest("backnd", &names), Some("backend"));
    }
}
