//! ONNX export: the trained weights as a stateful ONNX graph (opset 17) built by hand with
//! the native `LSTM` node, and the model card beside it.
//!
//! Graph: `tokens` [T, 1] int64 → Gather(embedding) → per layer: LSTM → Squeeze → … →
//! MatMul + Add → `logits` [T, 1, V]. With several layers, `h0`/`c0` are split by layer and
//! the final states concatenated into `hn`, `cn` [layers, 1, H]. T is dynamic, so priming with a whole
//! seed and stepping one token are the same graph. ONNX's gate order is i, o, f, c and its
//! bias is [Wb; Rb]; the weights are reordered from PyTorch's i, f, g, o here.

use crate::error::TrainerError;
use crate::weights::{LstmState, LstmWeights};
use continuo_core::accompaniment;
use continuo_core::card::{Dim, EncodingSpec, ModelCard, OnnxSpec, TensorSpec, Training, CARD_FORMAT, CARD_VERSION};
use continuo_core::corpus::{Corpus, Split};
use continuo_core::durable::write_durably;
use continuo_core::golden::{golden_path_for, Golden};
use continuo_core::lookback;
use continuo_core::metre::{rows_at, METRE_ROWS};
use continuo_core::vocab::Vocabulary;
use continuo_core::Token;
use onnx_protobuf::attribute_proto::AttributeType;
use onnx_protobuf::tensor_proto::DataType;
use onnx_protobuf::tensor_shape_proto::{dimension, Dimension};
use onnx_protobuf::{
    type_proto, AttributeProto, GraphProto, Message, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    TensorShapeProto, TypeProto, ValueInfoProto,
};
use protobuf::{EnumOrUnknown, MessageField};
use std::collections::BTreeMap;
use std::path::Path;

pub const OPSET: u32 = 17;
const IR_VERSION: i64 = 8;

fn float_tensor(name: &str, dims: &[usize], data: Vec<f32>) -> TensorProto {
    assert_eq!(dims.iter().product::<usize>(), data.len(), "{name}");
    TensorProto {
        name: name.into(),
        dims: dims.iter().map(|&d| d as i64).collect(),
        data_type: DataType::FLOAT as i32,
        float_data: data,
        ..TensorProto::default()
    }
}

fn int_tensor(name: &str, data: Vec<i64>) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: vec![data.len() as i64],
        data_type: DataType::INT64 as i32,
        int64_data: data,
        ..TensorProto::default()
    }
}

fn value_info(name: &str, elem: DataType, dims: &[Dim]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| Dimension {
            value: Some(match d {
                Dim::Fixed(n) => dimension::Value::DimValue(*n as i64),
                Dim::Dynamic(s) => dimension::Value::DimParam(s.clone()),
            }),
            ..Dimension::default()
        })
        .collect();
    let tensor = type_proto::Tensor {
        elem_type: elem as i32,
        shape: MessageField::some(TensorShapeProto { dim, ..TensorShapeProto::default() }),
        ..type_proto::Tensor::default()
    };
    ValueInfoProto {
        name: name.into(),
        type_: MessageField::some(TypeProto {
            value: Some(type_proto::Value::TensorType(tensor)),
            ..TypeProto::default()
        }),
        ..ValueInfoProto::default()
    }
}

fn node(op: &str, name: &str, inputs: &[&str], outputs: &[&str], attributes: Vec<AttributeProto>) -> NodeProto {
    NodeProto {
        op_type: op.into(),
        name: name.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        attribute: attributes,
        ..NodeProto::default()
    }
}

fn int_attribute(name: &str, value: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        type_: EnumOrUnknown::new(AttributeType::INT),
        i: value,
        ..AttributeProto::default()
    }
}

/// Where ONNX's gates i, o, f, c sit among PyTorch's i, f, g, o, and the reverse.
const TO_ONNX: [usize; 4] = [0, 3, 1, 2];
const FROM_ONNX: [usize; 4] = [0, 2, 3, 1];

/// The four gate blocks (each `block` values) of `data`, in the order `order` picks them.
fn reorder_gates(data: &[f32], block: usize, order: [usize; 4]) -> Vec<f32> {
    order.iter().flat_map(|&g| data[g * block..(g + 1) * block].iter().copied()).collect()
}

/// Every float weight of the ONNX model at `path` is a number. NaN or infinite weights are
/// found by their tensor's name, the recurrent matrices too (ONNX Runtime's LSTM saturates
/// those into finite gates, so no step shows them). A file that is not a regular one, or is
/// larger than any model may be, is not read here: loading it says why.
pub fn check_weights_finite(path: &Path) -> Result<(), TrainerError> {
    let size = std::fs::metadata(path).map_or(u64::MAX, |m| m.len());
    if !continuo_core::is_regular_file(path) || size > continuo_core::inference::MAX_MODEL_BYTES {
        return Ok(());
    }
    let err = |why: String| TrainerError::Onnx { path: path.to_path_buf(), why };
    let bytes = std::fs::read(path).map_err(TrainerError::io(path))?;
    let Ok(model) = ModelProto::parse_from_bytes(&bytes) else { return Ok(()) };
    for t in model.graph.initializer.iter().filter(|t| t.data_type == DataType::FLOAT as i32) {
        let raw = t.raw_data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        if let Some(bad) = raw.chain(t.float_data.iter().copied()).find(|x| !x.is_finite()) {
            return Err(err(format!("the weights `{}` are not numbers ({bad}): refused", t.name)));
        }
    }
    Ok(())
}

/// The weights in an ONNX file that this exporter (of any version) wrote, so that a model
/// can be written again with the current graph without its checkpoint.
pub fn read_weights(path: &Path) -> Result<LstmWeights, TrainerError> {
    let err = |why: String| TrainerError::Onnx { path: path.to_path_buf(), why };
    let bytes = std::fs::read(path).map_err(TrainerError::io(path))?;
    let model = ModelProto::parse_from_bytes(&bytes).map_err(|e| err(format!("not an ONNX model ({e})")))?;
    let tensors: BTreeMap<&str, &TensorProto> = model.graph.initializer.iter().map(|t| (t.name.as_str(), t)).collect();
    let tensor = |name: &str| -> Result<(Vec<usize>, Vec<f32>), TrainerError> {
        let t = tensors
            .get(name)
            .ok_or_else(|| err(format!("no initializer `{name}`: not written by `trainer export`")))?;
        let data = if t.raw_data.is_empty() {
            t.float_data.clone()
        } else {
            t.raw_data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
        };
        let dims: Vec<usize> = t.dims.iter().map(|&d| usize::try_from(d).unwrap_or(usize::MAX)).collect();
        let size = dims.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
        if t.data_type != DataType::FLOAT as i32 || size != Some(data.len()) || !t.raw_data.len().is_multiple_of(4) {
            return Err(err(format!("initializer `{name}` is not a float tensor of shape {dims:?}")));
        }
        Ok((dims, data))
    };
    let (dims, embedding) = tensor("embedding")?;
    let [rows, embed] = dims[..] else { return Err(err(format!("`embedding` has shape {dims:?}"))) };
    // The vocabulary is the output layer's; a metre-aware model's table has its rows after,
    // and a lookback model's its rows after those.
    let vocab = tensor("out_b")?.1.len();
    // A harmony model's rows come last, and its graph reads the `harmony` input.
    let harmony_rows = if model.graph.input.iter().any(|i| i.name == "harmony") { accompaniment::ROWS } else { 0 };
    let (metre_rows, lookback_rows) = match rows.checked_sub(vocab + harmony_rows) {
        Some(0) => (0, 0),
        Some(METRE_ROWS) => (METRE_ROWS, 0),
        Some(extra) if extra == METRE_ROWS + lookback::rows(vocab) => (METRE_ROWS, lookback::rows(vocab)),
        _ => return Err(err(format!("`embedding` has {rows} rows for a vocabulary of {vocab}"))),
    };
    let mut layers = Vec::new();
    let mut hidden = 0;
    while tensors.contains_key(format!("W{}", layers.len()).as_str()) {
        let l = layers.len();
        let (w_dims, w_ih) = tensor(&format!("W{l}"))?;
        let (_, w_hh) = tensor(&format!("R{l}"))?;
        let (_, b) = tensor(&format!("B{l}"))?;
        let &[1, gates, _] = &w_dims[..] else { return Err(err(format!("`W{l}` has shape {w_dims:?}"))) };
        if l > 0 && gates != 4 * hidden {
            return Err(err(format!("layer {l} has {} units, layer 0 {hidden}", gates / 4)));
        }
        hidden = gates / 4;
        let input = if l == 0 { embed } else { hidden };
        if hidden == 0 || w_dims != [1, 4 * hidden, input] || w_hh.len() != 4 * hidden * hidden || b.len() != 8 * hidden
        {
            return Err(err(format!("layer {l} has inconsistent shapes")));
        }
        layers.push(crate::weights::LayerWeights {
            w_ih: reorder_gates(&w_ih, hidden * input, FROM_ONNX),
            w_hh: reorder_gates(&w_hh, hidden * hidden, FROM_ONNX),
            b_ih: reorder_gates(&b[..4 * hidden], hidden, FROM_ONNX),
            b_hh: reorder_gates(&b[4 * hidden..], hidden, FROM_ONNX),
        });
    }
    if layers.is_empty() {
        return Err(err("no LSTM layer `W0`".into()));
    }
    let (out_dims, out_wt) = tensor("out_wt")?;
    let (_, out_b) = tensor("out_b")?;
    if out_dims != [hidden, vocab] || out_b.len() != vocab {
        return Err(err(format!("the output layer has shape {out_dims:?}, expected [{hidden}, {vocab}]")));
    }
    let out_w = (0..vocab * hidden).map(|i| out_wt[(i % hidden) * vocab + i / hidden]).collect();
    Ok(LstmWeights { vocab, embed, hidden, embedding, metre_rows, lookback_rows, harmony_rows, layers, out_w, out_b })
}

/// The tensors of the ONNX interface, as the card records them.
pub fn interface(weights: &LstmWeights) -> (Vec<TensorSpec>, Vec<TensorSpec>) {
    let (l, h, v) = (weights.num_layers() as u64, weights.hidden as u64, weights.vocab as u64);
    let t = || Dim::Dynamic("T".into());
    let spec = |name: &str, dtype: &str, shape: Vec<Dim>| TensorSpec { name: name.into(), dtype: dtype.into(), shape };
    let state = || vec![Dim::Fixed(l), Dim::Fixed(1), Dim::Fixed(h)];
    let mut inputs = vec![spec("tokens", "int64", vec![t(), Dim::Fixed(1)])];
    if weights.metre_rows > 0 {
        inputs.push(spec("metre", "int64", vec![t(), Dim::Fixed(1), Dim::Fixed(2)]));
    }
    if weights.lookback_rows > 0 {
        inputs.push(spec("lookback", "int64", vec![t(), Dim::Fixed(1), Dim::Fixed(lookback::INPUTS as u64)]));
    }
    if weights.harmony_rows > 0 {
        let twelve = Dim::Fixed(accompaniment::INPUTS as u64);
        inputs.push(spec("harmony", "int64", vec![t(), Dim::Fixed(1), twelve]));
    }
    inputs.extend([spec("h0", "float32", state()), spec("c0", "float32", state())]);
    (
        inputs,
        vec![
            spec("logits", "float32", vec![t(), Dim::Fixed(1), Dim::Fixed(v)]),
            spec("hn", "float32", state()),
            spec("cn", "float32", state()),
        ],
    )
}

/// The input x0 [T, 1, E]: the token's embedding row, plus in a metre-aware model the sum
/// of its metre rows ([T, 1, 2, E] summed on axis 2), plus in a lookback model the sum of
/// its lookback rows, plus in a harmony model the sum of its harmony rows.
fn embedding_nodes(weights: &LstmWeights, init: &mut Vec<TensorProto>) -> Vec<NodeProto> {
    let inputs =
        [("metre", weights.metre_rows), ("lookback", weights.lookback_rows), ("harmony", weights.harmony_rows)];
    let extra: Vec<&str> = inputs.into_iter().filter(|&(_, rows)| rows > 0).map(|(input, _)| input).collect();
    if extra.is_empty() {
        return vec![node("Gather", "embed", &["embedding", "tokens"], &["x0"], vec![])];
    }
    init.push(int_tensor("axes2", vec![2]));
    let mut nodes = vec![node("Gather", "embed", &["embedding", "tokens"], &["token_x"], vec![])];
    let mut sum = "token_x".to_string();
    for (k, input) in extra.iter().enumerate() {
        let (rows, x) = (format!("{input}_rows"), format!("{input}_x"));
        let out = if k + 1 == extra.len() { "x0".to_string() } else { format!("with_{input}") };
        let keep = vec![int_attribute("keepdims", 0)];
        nodes.push(node("Gather", &format!("embed_{input}"), &["embedding", input], &[&rows], vec![]));
        nodes.push(node("ReduceSum", &format!("{input}_sum"), &[&rows, "axes2"], &[&x], keep));
        nodes.push(node("Add", &format!("{input}_add"), &[&sum, &x], &[&out], vec![]));
        sum = out;
    }
    nodes
}

/// The ONNX model for `weights`.
pub fn onnx_model(weights: &LstmWeights, name: &str) -> ModelProto {
    let (h, v) = (weights.hidden, weights.vocab);
    let rows = v + weights.metre_rows + weights.lookback_rows + weights.harmony_rows;
    let mut init = vec![
        float_tensor("embedding", &[rows, weights.embed], weights.embedding.clone()),
        int_tensor("axes1", vec![1]),
    ];
    let mut nodes = embedding_nodes(weights, &mut init);
    // One layer takes `h0`, `c0` and gives `hn`, `cn` as they are; several split them by
    // layer and concatenate their final states (every node costs time in a one-token step).
    let layers = weights.num_layers();
    let state_name = |prefix: &str, l: usize| if layers == 1 { prefix.to_string() } else { format!("{prefix}_{l}") };
    if layers > 1 {
        for (input, prefix) in [("h0", "h0"), ("c0", "c0")] {
            let parts: Vec<String> = (0..layers).map(|l| state_name(prefix, l)).collect();
            let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
            nodes.push(node("Split", &format!("split_{input}"), &[input], &parts, vec![int_attribute("axis", 0)]));
        }
    }
    for (l, layer) in weights.layers.iter().enumerate() {
        let input = if l == 0 { weights.embed } else { h };
        let mut bias = reorder_gates(&layer.b_ih, h, TO_ONNX);
        bias.extend(reorder_gates(&layer.b_hh, h, TO_ONNX));
        init.push(float_tensor(&format!("W{l}"), &[1, 4 * h, input], reorder_gates(&layer.w_ih, h * input, TO_ONNX)));
        init.push(float_tensor(&format!("R{l}"), &[1, 4 * h, h], reorder_gates(&layer.w_hh, h * h, TO_ONNX)));
        init.push(float_tensor(&format!("B{l}"), &[1, 8 * h], bias));
        let (x, y, next) = (format!("x{l}"), format!("y{l}"), format!("x{}", l + 1));
        nodes.push(node(
            "LSTM",
            &format!("lstm{l}"),
            &[&x, &format!("W{l}"), &format!("R{l}"), &format!("B{l}"), "", &state_name("h0", l), &state_name("c0", l)],
            &[&y, &state_name("hn", l), &state_name("cn", l)],
            vec![int_attribute("hidden_size", h as i64)],
        ));
        nodes.push(node("Squeeze", &format!("squeeze{l}"), &[&y, "axes1"], &[&next], vec![]));
    }
    let last = format!("x{}", weights.num_layers());
    let mut out_t = vec![0.0f32; h * v];
    for r in 0..v {
        for k in 0..h {
            out_t[k * v + r] = weights.out_w[r * h + k];
        }
    }
    init.push(float_tensor("out_wt", &[h, v], out_t));
    init.push(float_tensor("out_b", &[v], weights.out_b.clone()));
    nodes.push(node("MatMul", "project", &[&last, "out_wt"], &["projected"], vec![]));
    nodes.push(node("Add", "bias", &["projected", "out_b"], &["logits"], vec![]));
    if layers > 1 {
        for output in ["hn", "cn"] {
            let parts: Vec<String> = (0..layers).map(|l| state_name(output, l)).collect();
            let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
            nodes.push(node("Concat", &format!("state_{output}"), &parts, &[output], vec![int_attribute("axis", 0)]));
        }
    }

    let (inputs, outputs) = interface(weights);
    let info = |s: &TensorSpec| {
        value_info(&s.name, if s.dtype == "int64" { DataType::INT64 } else { DataType::FLOAT }, &s.shape)
    };
    let graph = GraphProto {
        name: name.into(),
        node: nodes,
        initializer: init,
        input: inputs.iter().map(info).collect(),
        output: outputs.iter().map(info).collect(),
        ..GraphProto::default()
    };
    ModelProto {
        ir_version: IR_VERSION,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: OPSET as i64,
            ..OperatorSetIdProto::default()
        }],
        producer_name: "continuo-trainer".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        graph: MessageField::some(graph),
        ..ModelProto::default()
    }
}

/// The model card for exported weights.
pub fn model_card(
    weights: &LstmWeights,
    name: &str,
    onnx_file: &str,
    encoding: EncodingSpec,
    training: Training,
    evaluation: BTreeMap<String, f64>,
) -> ModelCard {
    ModelCard {
        format: CARD_FORMAT.into(),
        version: CARD_VERSION,
        name: name.into(),
        description: String::new(),
        encoding,
        onnx: onnx_spec(weights, onnx_file),
        training,
        evaluation,
    }
}

/// The card's record of the ONNX file written for `weights`.
pub fn onnx_spec(weights: &LstmWeights, onnx_file: &str) -> OnnxSpec {
    let (inputs, outputs) = interface(weights);
    OnnxSpec {
        file: onnx_file.into(),
        opset: OPSET,
        inputs,
        outputs,
        layers: weights.num_layers() as u32,
        hidden_size: weights.hidden as u32,
        embedding_size: weights.embed as u32,
    }
}

/// Write `NAME.onnx` and its card `NAME.json`, each durably (`continuo_core::durable`).
pub fn write_model(weights: &LstmWeights, onnx_path: &Path, card: &ModelCard) -> Result<(), TrainerError> {
    if card.encoding.vocabulary.len() != weights.vocab {
        return Err(TrainerError::Invalid(format!(
            "the vocabulary has {} tokens but the weights {} outputs",
            card.encoding.vocabulary.len(),
            weights.vocab
        )));
    }
    card.validate().map_err(|e| TrainerError::Invalid(format!("model card: {e}")))?;
    let name = onnx_path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let bytes = onnx_model(weights, &name)
        .write_to_bytes()
        .map_err(|e| TrainerError::Onnx { path: onnx_path.to_path_buf(), why: e.to_string() })?;
    write_durably(onnx_path, &bytes).map_err(TrainerError::io(onnx_path))?;
    let card_path = continuo_core::card::card_path_for(onnx_path);
    card.save(&card_path).map_err(TrainerError::io(card_path))
}

/// Tokens in a golden file.
const GOLDEN_STEPS: usize = 48;

/// `NAME.golden.json` beside `onnx_path`: the start of the corpus's first test song (else its
/// first validation or training song) as token ids in `vocab`, and the trainer's logits for
/// them from a zero state, which the ONNX model must reproduce
/// (`core/tests/shipped_models.rs`).
pub fn write_golden(
    weights: &LstmWeights,
    vocab: &Vocabulary,
    corpus: &Corpus,
    onnx_path: &Path,
) -> Result<(), TrainerError> {
    let song = [Split::Test, Split::Validation, Split::Train]
        .into_iter()
        .find_map(|split| corpus.split(split).next())
        .ok_or_else(|| TrainerError::Invalid("the corpus has no songs for a golden file".into()))?;
    let mut tokens = vec![Token::SongEnd];
    tokens.extend(song.tokens.iter().take(GOLDEN_STEPS - 1).cloned());
    let ids = vocab.encode(&tokens);
    // A metre-aware model's steps with their metre (the `/` before the song: unknown).
    let metre: Vec<[u32; 2]> = (0..ids.len())
        .map(|i| if i == 0 { continuo_core::metre::UNKNOWN } else { rows_at(&song.metre, i as i64 - 1) })
        .collect();
    let song_end = ids[0];
    let mut codes = crate::codes::with_lookback(&ids, |i| (weights.metre_rows > 0).then_some(metre[i]), song_end);
    // A harmony model's steps with the harmony under the step each predicts (none under `/`).
    let under: Vec<_> = std::iter::once(0).chain(song.harmony.iter().copied()).take(ids.len()).collect();
    let harmony: Option<Vec<_>> = (weights.harmony_rows > 0).then(|| {
        crate::codes::with_harmony(&mut codes, &under, |_| true);
        codes.iter().map(|&c| crate::codes::harmony(c)).collect()
    });
    let mut state = LstmState::zeros(weights.num_layers(), weights.hidden);
    let logits = weights.forward(&codes, &mut state);
    let golden = Golden {
        about: "the trainer's logits for these token ids (and metre rows, and harmony), fed from a zero state; the \
                ONNX model must agree to within 1e-4"
            .into(),
        file: song.file.clone(),
        tokens: tokens.iter().map(|t| t.to_string()).collect(),
        ids,
        metre: (weights.metre_rows > 0).then_some(metre),
        harmony,
        logits: logits.chunks(weights.vocab).map(|row| row.iter().copied().map(Some).collect()).collect(),
    };
    let path = golden_path_for(onnx_path);
    let json = serde_json::to_string(&golden).expect("a golden file always serialises");
    write_durably(&path, json.as_bytes()).map_err(TrainerError::io(&path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_read_back_from_an_exported_model_are_the_weights_written() {
        for layers in [1, 3] {
            let weights = LstmWeights::random(11, 5, 7, layers, 3);
            let dir = std::env::temp_dir().join(format!("continuo-read-weights-{}-{layers}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join("m.onnx");
            std::fs::write(&path, onnx_model(&weights, "m").write_to_bytes().unwrap()).unwrap();
            assert_eq!(read_weights(&path).unwrap(), weights);
            std::fs::write(&path, b"not a model").unwrap();
            let e = read_weights(&path).unwrap_err().to_string();
            assert!(e.contains("m.onnx") && e.contains("not an ONNX model"), "{e}");
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }

    /// Damaged or foreign ONNX files are typed errors naming the file, never a panic.
    #[test]
    fn a_malformed_model_is_an_error_not_a_panic() {
        let weights = LstmWeights::random(11, 5, 7, 2, 3);
        let dir = std::env::temp_dir().join(format!("continuo-malformed-onnx-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bad.onnx");
        type Damage = fn(&mut TensorProto);
        let cases: [(&str, &str, Damage); 6] = [
            ("W0", "a 1-d input weight", |t| t.dims = vec![28]),
            ("W0", "no units", |t| {
                t.dims = vec![1, 0, 5];
                t.raw_data.clear();
                t.float_data.clear();
            }),
            ("R0", "a ragged raw tensor", |t| t.raw_data.push(0)),
            ("W1", "layers of different widths", |t| t.dims = vec![1, 4 * 7, 6]),
            ("out_wt", "a negative dimension", |t| t.dims = vec![-7, -11]),
            ("embedding", "an integer tensor", |t| t.data_type = DataType::INT32 as i32),
        ];
        for (name, what, damage) in cases {
            let mut model = onnx_model(&weights, "bad");
            damage(model.graph.as_mut().unwrap().initializer.iter_mut().find(|t| t.name == name).unwrap());
            std::fs::write(&path, model.write_to_bytes().unwrap()).unwrap();
            let e = read_weights(&path).expect_err(what);
            assert!(matches!(e, TrainerError::Onnx { .. }) && e.to_string().contains("bad.onnx"), "{what}: {e}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
