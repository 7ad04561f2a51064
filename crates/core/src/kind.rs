//! The kinds of facts that ingestion takes (SPEC §2, §8), and the one trait
//! each kind's record type implements: its [`FactKind`], its field names and
//! its field-level checks. The HTTP routes, `floorline import --kind` and the
//! store's generic ingestion all read their kind list from [`FactKind::ALL`].

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::bundle::{
    check_id, Alias, Attestation, Binding, Check, Earning, Health, Probe, Session,
};
use crate::error::Invalid;
use crate::time::Timestamp;

/// Runs `$body` with `$t` the record type of the [`FactKind`] `$kind`: the
/// one place that maps a kind to its type, for callers that pick the kind at
/// run time (`floorline import --kind`, the HTTP routes).
#[macro_export]
macro_rules! with_fact_type {
    ($kind:expr, $t:ident => $body:expr) => {
        match $kind {
            $crate::kind::FactKind::Machines => {
                type $t = $crate::bundle::Attestation;
                $body
            }
            $crate::kind::FactKind::Aliases => {
                type $t = $crate::bundle::Alias;
                $body
            }
            $crate::kind::FactKind::Bindings => {
                type $t = $crate::bundle::Binding;
                $body
            }
            $crate::kind::FactKind::Sessions => {
                type $t = $crate::bundle::Session;
                $body
            }
            $crate::kind::FactKind::Health => {
                type $t = $crate::bundle::Health;
                $body
            }
            $crate::kind::FactKind::Earnings => {
                type $t = $crate::bundle::Earning;
                $body
            }
            $crate::kind::FactKind::Probes => {
                type $t = $crate::bundle::Probe;
                $body
            }
            $crate::kind::FactKind::Watermarks => {
                type $t = $crate::kind::Watermark;
                $body
            }
        }
    };
}

/// The kinds of facts that can be ingested (SPEC §8 HTTP ingestion).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FactKind {
    Machines,
    Aliases,
    Bindings,
    Sessions,
    Health,
    Earnings,
    Probes,
    Watermarks,
}

impl FactKind {
    pub const ALL: [FactKind; 8] = [
        FactKind::Machines,
        FactKind::Aliases,
        FactKind::Bindings,
        FactKind::Sessions,
        FactKind::Health,
        FactKind::Earnings,
        FactKind::Probes,
        FactKind::Watermarks,
    ];

    /// The name in routes, error paths and reports (`earnings`).
    pub fn as_str(self) -> &'static str {
        match self {
            FactKind::Machines => "machines",
            FactKind::Aliases => "aliases",
            FactKind::Bindings => "bindings",
            FactKind::Sessions => "sessions",
            FactKind::Health => "health",
            FactKind::Earnings => "earnings",
            FactKind::Probes => "probes",
            FactKind::Watermarks => "watermarks",
        }
    }

    pub fn parse(text: &str) -> Option<FactKind> {
        FactKind::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// The field names a fact of this kind has (SPEC §2), read off its type:
    /// a key of an ingested item outside this list is ignored by the parser,
    /// and the HTTP answer names it (`ignored_fields`).
    pub fn fields(self) -> &'static [&'static str] {
        with_fact_type!(self, T => T::fields())
    }
}

impl std::fmt::Display for FactKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A fact type that can be ingested: one record of one [`FactKind`].
pub trait Fact: DeserializeOwned + Serialize + Clone + Send + Sync + 'static {
    const KIND: FactKind;
    /// Field-level checks (identifiers, signs, order of times), with `path`
    /// as the prefix of every problem (`earnings[3]`).
    fn check_item(&self, path: &str, errs: &mut Vec<Invalid>);
    /// The field names a fact of this kind has (others are ignored, and
    /// `floorline import` says so), as its `Deserialize` declares them.
    fn fields() -> &'static [&'static str] {
        struct_fields::<Self>()
    }
}

macro_rules! bundle_fact {
    ($t:ty, $kind:expr) => {
        impl Fact for $t {
            const KIND: FactKind = $kind;
            fn check_item(&self, path: &str, errs: &mut Vec<Invalid>) {
                Check::check(self, path, errs);
            }
        }
    };
}

bundle_fact!(Attestation, FactKind::Machines);
bundle_fact!(Alias, FactKind::Aliases);
bundle_fact!(Binding, FactKind::Bindings);
bundle_fact!(Session, FactKind::Sessions);
bundle_fact!(Health, FactKind::Health);
bundle_fact!(Earning, FactKind::Earnings);
bundle_fact!(Probe, FactKind::Probes);

/// "Source `source` has sent every fact up to `up_to`" (SPEC §6
/// completeness): the one kind that no bundle holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watermark {
    pub source: String,
    pub up_to: Timestamp,
}

impl Fact for Watermark {
    const KIND: FactKind = FactKind::Watermarks;
    /// Only the source has checks (an earlier `up_to` is a conflict, never
    /// an error).
    fn check_item(&self, path: &str, errs: &mut Vec<Invalid>) {
        if let Err(m) = check_id(&self.source) {
            errs.push(Invalid::new(format!("{path}.source"), m));
        }
    }
}

/// The field names serde's derive hands to `deserialize_struct` for `T`, so
/// that the list can never drift from the type (empty for a type that is
/// not a plain struct).
pub fn struct_fields<T: DeserializeOwned>() -> &'static [&'static str] {
    use serde::de::{Error as _, Visitor};
    use serde::forward_to_deserialize_any;

    /// A deserializer that only records the field list it is asked for.
    struct Fields<'a>(&'a mut &'static [&'static str]);

    impl<'de> serde::Deserializer<'de> for Fields<'_> {
        type Error = serde::de::value::Error;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(Self::Error::custom("not a struct"))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _visitor: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(Self::Error::custom("field names recorded"))
        }

        forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }

    let mut fields: &'static [&'static str] = &[];
    // The error is the point: the derive stops once it has named its fields.
    let _ = T::deserialize(Fields(&mut fields));
    fields
}
