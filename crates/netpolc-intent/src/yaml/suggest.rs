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
    let word = word.to_ascii_lowercase();
    let length = word.chars().count();
    let limit = if length <= 3 { 1 } else { (length / 3).max(2) };
    let mut best: Option<(usize, &'a str)> = None;
    for &candidate in candidates {
        if let Some(d) = distance_within(&word, &candidate.to_ascii_lowercase(), limit) {
            if best.is_none_or(|(b, _)| d < b) {
                best = Some((d, candidate));
            }
        }
    }
    best.map(|(_, c)| c)
}

/// The Levenshtein distance between `a` and `b` (`strsim`) if it is at most `bound`.
/// Words whose lengths differ by more than `bound` are never compared, so a long
/// hostile scalar costs nothing against the short names it is compared with.
fn distance_within(a: &str, b: &str, bound: usize) -> Option<usize> {
    if a.chars().count().abs_diff(b.chars().count()) > bound {
        return None;
    }
    let d = strsim::levenshtein(a, b);
    (d <= bound).then_some(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        let d = |a: &str, b: &str| distance_within(a, b, 100);
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
