//! YAML documents: read as order-preserving trees (serde_norway), converted
//! to JSON for the policy, and back for the values a fix adds.

use serde::Deserialize;
use serde_json::Value as Json;
use serde_norway::Value as Yaml;

/// A document that could not be read: its 1-based index in the stream and
/// the parser's message (which gives the line and column in the file).
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentError {
    pub document: usize,
    pub message: String,
}

/// Reads every document of a YAML (or JSON) stream, in order. Documents
/// before a syntax error are returned with it, so they can still be checked.
pub fn read_documents(text: &str) -> (Vec<Yaml>, Option<DocumentError>) {
    let mut documents = Vec::new();
    for deserializer in serde_norway::Deserializer::from_str(text) {
        let document = documents.len() + 1;
        match Yaml::deserialize(deserializer) {
            Ok(mut value) => {
                // `<<` merge keys, as kubectl's YAML reader applies them.
                if let Err(e) = value.apply_merge() {
                    return (documents, Some(DocumentError::new(document, e)));
                }
                documents.push(value);
            }
            Err(e) => return (documents, Some(DocumentError::new(document, e))),
        }
    }
    (documents, None)
}

impl DocumentError {
    fn new(document: usize, error: impl std::fmt::Display) -> DocumentError {
        DocumentError {
            document,
            message: error.to_string(),
        }
    }
}

/// The JSON the API server would get for this YAML, or why there is none.
/// Scalar mapping keys become strings, as in Kubernetes' YAML-to-JSON step.
pub fn to_json(value: &Yaml) -> Result<Json, String> {
    Ok(match value {
        Yaml::Null => Json::Null,
        Yaml::Bool(b) => Json::Bool(*b),
        Yaml::Number(n) => Json::Number(json_number(n)?),
        Yaml::String(s) => Json::String(s.clone()),
        Yaml::Sequence(items) => Json::Array(items.iter().map(to_json).collect::<Result<_, _>>()?),
        Yaml::Mapping(map) => {
            let mut object = serde_json::Map::new();
            for (key, value) in map {
                object.insert(key_text(key)?, to_json(value)?);
            }
            Json::Object(object)
        }
        Yaml::Tagged(tagged) => {
            return Err(format!(
                "the YAML tag {} is not supported in a Kubernetes manifest",
                tagged.tag
            ));
        }
    })
}

fn json_number(n: &serde_norway::Number) -> Result<serde_json::Number, String> {
    if let Some(i) = n.as_i64() {
        Ok(i.into())
    } else if let Some(u) = n.as_u64() {
        Ok(u.into())
    } else {
        n.as_f64()
            .and_then(serde_json::Number::from_f64)
            .ok_or_else(|| format!("the number {n} cannot be written in JSON"))
    }
}

/// The text of a mapping key as a JSON object key.
pub fn key_text(key: &Yaml) -> Result<String, String> {
    match key {
        Yaml::String(s) => Ok(s.clone()),
        Yaml::Bool(b) => Ok(b.to_string()),
        Yaml::Number(n) => Ok(n.to_string()),
        Yaml::Null => Ok("null".to_string()),
        _ => Err(
            "a mapping key is a sequence, mapping or tagged value, which JSON cannot hold".into(),
        ),
    }
}

/// YAML for a value the policy adds. Objects are written with `name` first
/// (as Kubernetes manifests are), then the other keys in order.
pub fn from_json(value: &Json) -> Yaml {
    match value {
        Json::Null => Yaml::Null,
        Json::Bool(b) => Yaml::Bool(*b),
        Json::Number(n) => yaml_number(n),
        Json::String(s) => Yaml::String(s.clone()),
        Json::Array(items) => Yaml::Sequence(items.iter().map(from_json).collect()),
        Json::Object(object) => {
            let mut map = serde_norway::Mapping::new();
            let named_first = object
                .iter()
                .filter(|(k, _)| *k == "name")
                .chain(object.iter().filter(|(k, _)| *k != "name"));
            for (key, value) in named_first {
                map.insert(Yaml::String(key.clone()), from_json(value));
            }
            Yaml::Mapping(map)
        }
    }
}

fn yaml_number(n: &serde_json::Number) -> Yaml {
    if let Some(i) = n.as_i64() {
        Yaml::Number(i.into())
    } else if let Some(u) = n.as_u64() {
        Yaml::Number(u.into())
    } else {
        // Finite: serde_json holds no NaN or infinity.
        Yaml::Number(n.as_f64().unwrap_or_default().into())
    }
}

/// Strings in `value` whose YAML text kubectl reads differently: kubectl's
/// reader follows YAML 1.1, where an unquoted `0644` is the octal number 420
/// and an unquoted `yes`/`on`/`y` is a boolean; here (YAML 1.2) both are
/// strings. The tree does not say whether the input quoted them, so a
/// document written back may change their meaning for kubectl. Returns
/// `(field path, value, what kubectl would read)`.
pub fn yaml_1_1_ambiguities(value: &Yaml) -> Vec<(String, String, &'static str)> {
    let mut found = Vec::new();
    collect_ambiguities(value, &mut String::new(), &mut found);
    found
}

fn collect_ambiguities(
    value: &Yaml,
    path: &mut String,
    found: &mut Vec<(String, String, &'static str)>,
) {
    let len = path.len();
    match value {
        Yaml::String(s) => {
            if let Some(reading) = yaml_1_1_reading(s) {
                found.push((path.clone(), s.clone(), reading));
            }
        }
        Yaml::Sequence(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push_str(&format!("[{i}]"));
                collect_ambiguities(item, path, found);
                path.truncate(len);
            }
        }
        Yaml::Mapping(map) => {
            for (key, item) in map {
                let key = key_text(key).unwrap_or_default();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&key);
                collect_ambiguities(item, path, found);
                path.truncate(len);
            }
        }
        Yaml::Tagged(tagged) => collect_ambiguities(&tagged.value, path, found),
        _ => {}
    }
}

/// What YAML 1.1 makes of `s` written unquoted, when that is not a string.
fn yaml_1_1_reading(s: &str) -> Option<&'static str> {
    const BOOLEANS: [&str; 16] = [
        "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off",
        "OFF",
    ];
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    if BOOLEANS.contains(&s) {
        Some("a boolean")
    } else if digits.len() > 1
        && digits.starts_with('0')
        && digits.bytes().all(|b| b.is_ascii_digit())
    {
        Some("an octal number")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_every_document_in_order() {
        let (docs, error) = read_documents("a: 1\n---\n---\nb: [x, 2]\n");
        assert_eq!(error, None);
        assert_eq!(docs.len(), 3);
        assert_eq!(to_json(&docs[0]).unwrap(), json!({"a": 1}));
        assert_eq!(docs[1], Yaml::Null);
        assert_eq!(to_json(&docs[2]).unwrap(), json!({"b": ["x", 2]}));
    }

    #[test]
    fn an_empty_stream_has_no_object() {
        for text in ["", "# only a comment\n", "---\n"] {
            let (docs, error) = read_documents(text);
            assert_eq!(error, None);
            assert!(docs.iter().all(Yaml::is_null), "{text:?}: {docs:?}");
        }
    }

    #[test]
    fn a_syntax_error_names_the_document_and_keeps_the_ones_before() {
        let (docs, error) = read_documents("a: 1\n---\nb: [1, 2\nc: 3\n");
        assert_eq!(docs.len(), 1);
        let error = error.unwrap();
        assert_eq!(error.document, 2);
        assert!(error.message.contains("line"), "{}", error.message);
    }

    #[test]
    fn json_with_tabs_and_escapes_is_read() {
        let (docs, error) =
            read_documents("{\n\t\"a\": \"x\\/y\\u00e9\",\n\t\"n\": [1.5, -2, 1e3]\n}\n");
        assert_eq!(error, None, "{error:?}");
        assert_eq!(
            to_json(&docs[0]).unwrap(),
            json!({"a": "x/y\u{e9}", "n": [1.5, -2, 1000.0]})
        );
    }

    #[test]
    fn merge_keys_are_applied() {
        let (docs, _) = read_documents("base: &b {x: 1}\nc:\n  <<: *b\n  y: 2\n");
        assert_eq!(
            to_json(&docs[0]).unwrap(),
            json!({"base": {"x": 1}, "c": {"x": 1, "y": 2}})
        );
    }

    #[test]
    fn scalar_keys_become_strings_and_tags_are_refused() {
        let (docs, _) = read_documents("80: http\ntrue: 1\n");
        assert_eq!(to_json(&docs[0]).unwrap(), json!({"80": "http", "true": 1}));
        let (docs, _) = read_documents("a: !custom 1\n");
        assert!(to_json(&docs[0]).unwrap_err().contains("!custom"));
    }

    #[test]
    fn strings_yaml_1_1_reads_otherwise_are_found_with_their_path() {
        let (docs, _) = read_documents(
            "spec:\n  volumes:\n  - configMap: {defaultMode: 0644}\n  x: [on, '1', 'no', \"0\", 007a]\n",
        );
        assert_eq!(
            yaml_1_1_ambiguities(&docs[0]),
            [
                (
                    "spec.volumes[0].configMap.defaultMode".to_string(),
                    "0644".to_string(),
                    "an octal number"
                ),
                ("spec.x[0]".to_string(), "on".to_string(), "a boolean"),
                ("spec.x[2]".to_string(), "no".to_string(), "a boolean"),
            ]
        );
    }

    #[test]
    fn added_objects_put_name_first() {
        let yaml = from_json(&json!({"emptyDir": {"sizeLimit": "64Mi"}, "name": "rw-app-tmp"}));
        assert_eq!(
            serde_norway::to_string(&yaml).unwrap(),
            "name: rw-app-tmp\nemptyDir:\n  sizeLimit: 64Mi\n"
        );
    }
}
