//! Pages of the lists (`tools/list`, `resources/list`, `resources/templates/list`,
//! `prompts/list`): `[server] page_size` items a page (0: one page), an opaque cursor
//! for the next.

use base64::Engine;
use rmcp::model::ErrorData;

const ENGINE: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The cursor of the page of `list` that starts at `offset`.
fn cursor(list: &str, offset: usize) -> String {
    ENGINE.encode(format!("{list}:{offset}"))
}

/// Where the page a cursor names starts, if the cursor is one of `list`'s.
fn offset(list: &str, cursor: &str) -> Option<usize> {
    let text = String::from_utf8(ENGINE.decode(cursor).ok()?).ok()?;
    let (name, offset) = text.split_once(':')?;
    (name == list).then(|| offset.parse().ok()).flatten()
}

/// The page of `items` that `cursor` names (the first without one), and the cursor of
/// the next page when there is one. A cursor this server did not give is -32602.
pub(crate) fn page<T>(
    list: &str,
    mut items: Vec<T>,
    cursor_given: Option<&str>,
    page_size: usize,
) -> Result<(Vec<T>, Option<String>), ErrorData> {
    let start = match cursor_given {
        None => 0,
        Some(c) => match offset(list, c) {
            Some(start) if start <= items.len() => start,
            _ => {
                return Err(ErrorData::invalid_params(
                    format!(
                        "invalid cursor `{c}` for {list}: use the nextCursor of the previous page, or none for the first"
                    ),
                    None,
                ));
            }
        },
    };
    if page_size == 0 && start == 0 {
        return Ok((items, None));
    }
    let end = if page_size == 0 {
        items.len()
    } else {
        items.len().min(start.saturating_add(page_size))
    };
    let next = (end < items.len()).then(|| cursor(list, end));
    items.truncate(end);
    items.drain(..start);
    Ok((items, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_follow_their_cursors_and_refuse_others() {
        let items: Vec<u32> = (0..5).collect();
        let (first, next) = page("tools/list", items.clone(), None, 2).unwrap_or_default();
        assert_eq!(first, [0, 1]);
        let next = next.unwrap_or_default();
        let (second, next) = page("tools/list", items.clone(), Some(&next), 2).unwrap_or_default();
        assert_eq!(second, [2, 3]);
        let (last, next) =
            page("tools/list", items.clone(), next.as_deref(), 2).unwrap_or_default();
        assert_eq!((last, next), (vec![4], None));
        assert_eq!(
            page("tools/list", items.clone(), None, 0).ok(),
            Some((items.clone(), None))
        );
        assert!(page("tools/list", items.clone(), Some("garbage!"), 2).is_err());
        let other = cursor("prompts/list", 2);
        assert!(
            page("tools/list", items.clone(), Some(&other), 2).is_err(),
            "a cursor of another list"
        );
        assert!(page("tools/list", items, Some(&cursor("tools/list", 9)), 2).is_err());
    }
}
