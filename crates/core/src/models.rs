//! The Mac model cap table (`shared/mac-models.md`): the largest unified memory
//! that can be trusted for a hardware model identifier. It only ever lowers a
//! self-reported size. Config `model_caps` adds to or overrides it.

/// `(identifier, cap GB)` defaults, from Apple's published configurations.
pub const DEFAULT_MODEL_CAPS: &[(&str, u32)] = &[
    ("MacBookAir10,1", 16),
    ("MacBookPro17,1", 16),
    ("MacBookPro18,1", 32),
    ("MacBookPro18,2", 64),
    ("MacBookPro18,3", 32),
    ("MacBookPro18,4", 64),
    ("Macmini9,1", 16),
    ("iMac21,1", 16),
    ("iMac21,2", 16),
    ("Mac13,1", 64),
    ("Mac13,2", 128),
    ("Mac14,2", 24),
    ("Mac14,15", 24),
    ("Mac14,7", 24),
    ("Mac14,9", 32),
    ("Mac14,5", 96),
    ("Mac14,10", 32),
    ("Mac14,6", 96),
    ("Mac14,3", 24),
    ("Mac14,12", 32),
    ("Mac14,13", 96),
    ("Mac14,14", 192),
    ("Mac14,8", 192),
    ("Mac15,12", 24),
    ("Mac15,13", 24),
    ("Mac15,3", 24),
    ("Mac15,4", 24),
    ("Mac15,5", 24),
    ("Mac15,6", 36),
    ("Mac15,7", 36),
    ("Mac15,8", 128),
    ("Mac15,10", 128),
    ("Mac15,9", 128),
    ("Mac15,11", 128),
    ("Mac15,14", 512),
    ("Mac16,1", 32),
    ("Mac16,2", 32),
    ("Mac16,3", 32),
    ("Mac16,8", 48),
    ("Mac16,6", 128),
    ("Mac16,7", 48),
    ("Mac16,5", 128),
    ("Mac16,9", 128),
    ("Mac16,10", 32),
    ("Mac16,11", 64),
    ("Mac16,12", 32),
    ("Mac16,13", 32),
    ("Mac17,2", 32),
    ("Mac17,3", 32),
    ("Mac17,4", 32),
];

/// The default cap for an identifier, if it is in the table.
pub fn default_cap_gb(identifier: &str) -> Option<u32> {
    DEFAULT_MODEL_CAPS
        .iter()
        .find(|(id, _)| *id == identifier)
        .map(|(_, gb)| *gb)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_matches_the_doc_examples() {
        assert_eq!(default_cap_gb("Mac15,9"), Some(128));
        assert_eq!(default_cap_gb("Mac14,9"), Some(32));
        assert_eq!(default_cap_gb("Mac16,9"), Some(128));
        assert_eq!(default_cap_gb("Mac15,14"), Some(512));
        assert_eq!(default_cap_gb("NotAModel99,9"), None);
        assert_eq!(default_cap_gb(""), None);
        assert_eq!(DEFAULT_MODEL_CAPS.len(), 50);
    }
}
