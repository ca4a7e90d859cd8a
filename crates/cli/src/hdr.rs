//! Latency histograms as load.json carries them: HdrHistogram's V2 serialization, deflated, in
//! standard base64 (the form HdrHistogram's own tools in Java, Go and C read). A shard's
//! histograms travel this way to `httplab merge`, which adds them bucket by bucket, so merged
//! percentiles are those of every sample, never an average of percentiles. It only encodes and
//! decodes; recording is the harness's.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hdrhistogram::serialization::{Deserializer, Serializer as _, V2DeflateSerializer};
use hdrhistogram::Histogram;

/// Why a histogram could not be written or read back.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HdrError {
    #[error("could not serialize a latency histogram: {0}")]
    Serialize(hdrhistogram::serialization::V2DeflateSerializeError),
    #[error("not base64: {0}")]
    Base64(#[from] base64::DecodeError),
    #[error("not an HDR histogram (V2, deflated): {0}")]
    Deserialize(hdrhistogram::serialization::DeserializeError),
}

/// `h` serialized (V2, deflated) and in base64.
pub(crate) fn encode(h: &Histogram<u64>) -> Result<String, HdrError> {
    let mut bytes = Vec::new();
    V2DeflateSerializer::new()
        .serialize(h, &mut bytes)
        .map_err(HdrError::Serialize)?;
    Ok(STANDARD.encode(bytes))
}

/// The histogram `encode` wrote.
pub(crate) fn decode(text: &str) -> Result<Histogram<u64>, HdrError> {
    let bytes = STANDARD.decode(text.trim())?;
    Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(HdrError::Deserialize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_survives_the_round_trip_bucket_for_bucket() {
        let mut h = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).expect("bounds");
        for v in [1, 17, 999, 1_000, 1_001, 52_345, 52_345, 9_000_000] {
            h.record(v).expect("in range");
        }
        let text = encode(&h).expect("serializes");
        let back = decode(&text).expect("deserializes");
        assert_eq!(back, h);
        assert_eq!(back.len(), 8);
        assert_eq!(back.value_at_quantile(0.5), h.value_at_quantile(0.5));
        assert!(matches!(decode("not base64!"), Err(HdrError::Base64(_))));
        assert!(matches!(decode("AAAA"), Err(HdrError::Deserialize(_))));
    }
}
