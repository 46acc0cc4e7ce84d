// `#[mango_rt::data]`: one line makes a type a tool's argument and result, with serde's
// and schemars' attributes working as usual.

/// A note.
#[mango_rt::data]
#[derive(Debug, Clone, PartialEq)]
struct Note {
    /// Its id.
    id: i64,
    #[serde(default)]
    tags: Vec<String>,
}

/// How urgent.
#[mango_rt::data]
#[serde(rename_all = "lowercase")]
enum Urgency {
    Low,
    High,
}

#[mango_rt::tool]
async fn tag(note: Note, urgency: Urgency) -> Note {
    let _ = urgency;
    note
}

pub fn main() {
    let note: Note = mango_rt::serde_json::from_str(r#"{"id": 1}"#).unwrap();
    assert_eq!(
        note,
        Note {
            id: 1,
            tags: vec![]
        }
    );
    let text = mango_rt::serde_json::to_string(&Urgency::High).unwrap();
    assert_eq!(text, "\"high\"");
    let schema = mango_rt::schemars::schema_for!(Note);
    assert!(
        mango_rt::serde_json::to_string(&schema)
            .unwrap()
            .contains("Its id.")
    );
    let _ = tag;
}
