"""Architectures from `transformers`, built from their configs at small sizes with random weights (seeded).

Each builder returns (module, example_inputs); the module wraps the Hugging Face model so that it returns the
tensor people deploy (the last hidden state, the logits, the pooled image features).
"""
from __future__ import annotations

import torch
import transformers as tf

SEQ = 8
VOCAB = 96
TEXT = dict(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
            max_position_embeddings=64, bos_token_id=1, eos_token_id=2)
TOKENS = dict(bos_token_id=1, eos_token_id=2)  # inside the small vocabulary


class Main(torch.nn.Module):
    """Calls the model with keyword inputs and returns one tensor of its output (by attribute name)."""

    def __init__(self, model: torch.nn.Module, keys: tuple[str, ...], out: str = "last_hidden_state"):
        super().__init__()
        self.model, self.keys, self.out = model, keys, out

    def forward(self, *inputs):
        result = self.model(**dict(zip(self.keys, inputs)))
        return getattr(result, self.out)


def _ids(batch: int = 1, seq: int = SEQ) -> torch.Tensor:
    return torch.randint(4, VOCAB, (batch, seq), generator=torch.Generator().manual_seed(1))


def _image(size: int = 32, channels: int = 3) -> torch.Tensor:
    return torch.randn(1, channels, size, size, generator=torch.Generator().manual_seed(2))


def _wave(samples: int = 1600) -> torch.Tensor:
    return torch.randn(1, samples, generator=torch.Generator().manual_seed(3))


def _config(cls, kwargs: dict):
    """The model's config (made when the architecture is built, so a bad one is that architecture's failure)."""
    config = cls.config_class(**kwargs)
    config._attn_implementation = "eager"  # the math path: what a phone runtime is compared against
    return config


def text(cls, config, out: str = "last_hidden_state", mask: bool = True):
    def build():
        torch.manual_seed(0)
        model = cls(_config(cls, config)).eval()
        ids = _ids()
        if mask:
            attention = torch.ones_like(ids)
            attention[0, -2:] = 0  # a padded sentence: the mask path is exercised
            return Main(model, ("input_ids", "attention_mask"), out), (ids, attention)
        return Main(model, ("input_ids",), out), (ids,)
    return build


def seq2seq(cls, config):
    def build():
        torch.manual_seed(0)
        model = cls(_config(cls, config)).eval()
        return Main(model, ("input_ids", "decoder_input_ids")), (_ids(), _ids(seq=5))
    return build


def calibrate_batch_norms(model: torch.nn.Module, batch: torch.Tensor, key: str) -> None:
    """Batch norms with unit scale and the running statistics of one training-mode pass over a random batch. With
    the fresh statistics (mean 0, variance 1), small initial weights and (in some models) ~0.02 batch-norm scales,
    deep CNNs shrink activations to ~0 (MobileNet's pooled features come out near 1e-30), which would make the
    comparison with eager vacuous."""
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for norm in norms:
        norm.reset_parameters()  # weight 1, bias 0, statistics reset
        norm.momentum = None  # a cumulative average: one pass sets the statistics of that pass
    model.train()
    with torch.no_grad():
        model(**{key: batch})
    model.eval()


def vision(cls, config, size: int = 32, out: str = "last_hidden_state", channels: int = 3):
    def build():
        torch.manual_seed(0)
        model = cls(_config(cls, config)).eval()
        calibrate_batch_norms(model, torch.randn(4, channels, size, size), "pixel_values")
        return Main(model, ("pixel_values",), out), (_image(size, channels),)
    return build


def audio(cls, config, samples: int = 1600):
    def build():
        torch.manual_seed(0)
        model = cls(_config(cls, config)).eval()
        return Main(model, ("input_values",)), (_wave(samples),)
    return build


def whisper_encoder():
    torch.manual_seed(0)
    config = _config(tf.WhisperModel, dict(vocab_size=VOCAB, num_mel_bins=16, encoder_layers=2,
                                           encoder_attention_heads=4, decoder_layers=1, decoder_attention_heads=4,
                                           d_model=32, encoder_ffn_dim=64, decoder_ffn_dim=64, max_source_positions=16,
                                           max_target_positions=16, pad_token_id=0, bos_token_id=1, eos_token_id=2,
                                           decoder_start_token_id=1))
    encoder = tf.WhisperModel(config).eval().get_encoder()
    features = torch.randn(1, 16, 32, generator=torch.Generator().manual_seed(4))  # 2 x max_source_positions frames
    return Main(encoder, ("input_features",)), (features,)


def _decoder(cls, **extra):
    return text(cls, {**TEXT, **extra})


_CNN_STAGES = dict(num_channels=3, hidden_sizes=[8, 16], depths=[1, 1])

ARCHITECTURES = {
    # encoders
    "bert": text(tf.BertModel, dict(**TEXT)),
    "bert_unpadded": text(tf.BertModel, dict(**TEXT), mask=False),  # no attention_mask input: one unpadded text
    "distilbert": text(tf.DistilBertModel, dict(vocab_size=VOCAB, dim=32, n_layers=2, n_heads=4,
                                                               hidden_dim=64, max_position_embeddings=64)),
    "roberta": text(tf.RobertaModel, dict(**TEXT, pad_token_id=1)),
    "xlm_roberta": text(tf.XLMRobertaModel, dict(**TEXT, pad_token_id=1)),
    "albert": text(tf.AlbertModel, dict(**TEXT, embedding_size=16)),
    "electra": text(tf.ElectraModel, dict(**TEXT, embedding_size=16)),
    "mpnet": text(tf.MPNetModel, dict(**TEXT)),
    "convbert": text(tf.ConvBertModel, dict(**TEXT, embedding_size=32)),
    "mobilebert": text(tf.MobileBertModel, dict(**{**TEXT, "intermediate_size": 32},
                                                               embedding_size=16, intra_bottleneck_size=16,
                                                               true_hidden_size=16, num_feedforward_networks=2)),
    "squeezebert": text(tf.SqueezeBertModel, dict(**TEXT, embedding_size=32, q_groups=2, k_groups=2,
                                                                  v_groups=2, post_attention_groups=2,
                                                                  intermediate_groups=4, output_groups=4)),
    "deberta_v2": text(tf.DebertaV2Model, dict(**TEXT)),
    # decoders
    "gpt2": text(tf.GPT2Model, dict(vocab_size=VOCAB, n_embd=32, n_layer=2, n_head=4, n_positions=64, **TOKENS)),
    "gpt2_unpadded": text(tf.GPT2Model, dict(vocab_size=VOCAB, n_embd=32, n_layer=2, n_head=4, n_positions=64,
                                             **TOKENS), mask=False),
    "gpt_neo": text(tf.GPTNeoModel, dict(vocab_size=VOCAB, hidden_size=32, num_layers=2, num_heads=4,
                                                    attention_types=[[["global", "local"], 1]], window_size=4, **TOKENS,
                                                    max_position_embeddings=64)),
    "gpt_neox": _decoder(tf.GPTNeoXModel),
    "opt": text(tf.OPTModel, dict(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, ffn_dim=64,
                                  num_attention_heads=4, max_position_embeddings=64, word_embed_proj_dim=32, **TOKENS)),
    "llama": _decoder(tf.LlamaModel, num_key_value_heads=2),
    "llama_unpadded": text(tf.LlamaModel, {**TEXT, "num_key_value_heads": 2}, mask=False),
    "mistral": _decoder(tf.MistralModel, num_key_value_heads=2, sliding_window=4),
    "qwen2": _decoder(tf.Qwen2Model, num_key_value_heads=2),
    "qwen3": _decoder(tf.Qwen3Model, num_key_value_heads=2, head_dim=8),
    "phi": _decoder(tf.PhiModel),
    "phi3": _decoder(tf.Phi3Model, pad_token_id=0),
    "gemma": _decoder(tf.GemmaModel, num_key_value_heads=2, head_dim=8),
    "bloom": text(tf.BloomModel, dict(vocab_size=VOCAB, hidden_size=32, n_layer=2, n_head=4, **TOKENS)),
    "falcon": text(tf.FalconModel, dict(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2,
                                                   num_attention_heads=4, **TOKENS)),
    # encoder-decoders
    "t5": seq2seq(tf.T5Model, dict(vocab_size=VOCAB, d_model=32, d_kv=8, d_ff=64, num_layers=2,
                                          num_heads=4, decoder_start_token_id=0)),
    "bart": seq2seq(tf.BartModel, dict(vocab_size=VOCAB, d_model=32, encoder_layers=2, decoder_layers=2,
                                                encoder_attention_heads=4, decoder_attention_heads=4,
                                                encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=64)),
    "marian": seq2seq(tf.MarianModel, dict(vocab_size=VOCAB, d_model=32, encoder_layers=2,
                                                      decoder_layers=2, encoder_attention_heads=4,
                                                      decoder_attention_heads=4, encoder_ffn_dim=64,
                                                      decoder_ffn_dim=64, max_position_embeddings=64,
                                                      pad_token_id=VOCAB - 1, decoder_start_token_id=VOCAB - 1)),
    "pegasus": seq2seq(tf.PegasusModel, dict(vocab_size=VOCAB, d_model=32, encoder_layers=2,
                                                         decoder_layers=2, encoder_attention_heads=4,
                                                         decoder_attention_heads=4, encoder_ffn_dim=64,
                                                         decoder_ffn_dim=64, max_position_embeddings=64)),
    # vision transformers
    "vit": vision(tf.ViTModel, dict(**{**TEXT, "vocab_size": None}, image_size=32, patch_size=8)),
    "deit": vision(tf.DeiTModel, dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                               intermediate_size=64, image_size=32, patch_size=8)),
    "beit": vision(tf.BeitModel, dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                               intermediate_size=64, image_size=32, patch_size=8,
                                               use_relative_position_bias=True)),
    "dinov2": vision(tf.Dinov2Model, dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                                     mlp_ratio=2, image_size=32, patch_size=8)),
    "swin": vision(tf.SwinModel, dict(image_size=32, patch_size=2, embed_dim=16, depths=[1, 1],
                                               num_heads=[2, 4], window_size=4)),
    "segformer": vision(tf.SegformerForSemanticSegmentation,
                        dict(num_encoder_blocks=2, depths=[1, 1], sr_ratios=[2, 1],
                                           hidden_sizes=[8, 16], num_attention_heads=[1, 2], decoder_hidden_size=16,
                                           num_labels=3, patch_sizes=[7, 3], strides=[4, 2]),
                        out="logits"),
    "yolos": vision(tf.YolosForObjectDetection,
                    dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                                   image_size=[32, 32], patch_size=8, num_detection_tokens=4, num_labels=3),
                    out="pred_boxes"),
    "levit": vision(tf.LevitModel, dict(image_size=32, hidden_sizes=[16, 32], num_attention_heads=[1, 2],
                                                  depths=[1, 1], key_dim=[8, 8], drop_path_rate=0,
                                                  mlp_ratio=[2, 2], attention_ratio=[2, 2],
                                                  down_ops=[["Subsample", 8, 1, 2, 2, 2]]),
                    out="pooler_output"),
    "mobilevit": vision(tf.MobileViTModel, dict(image_size=32, hidden_sizes=[16, 16, 16],
                                                              neck_hidden_sizes=[8, 8, 8, 8, 8, 16, 16]),
                        out="pooler_output"),
    # CNNs
    "resnet": vision(tf.ResNetModel, dict(embedding_size=8, **_CNN_STAGES), out="pooler_output"),
    "convnext": vision(tf.ConvNextModel, dict(**_CNN_STAGES, num_stages=2), out="pooler_output"),
    "convnextv2": vision(tf.ConvNextV2Model, dict(**_CNN_STAGES, num_stages=2), out="pooler_output"),
    "regnet": vision(tf.RegNetModel, dict(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1],
                                                     groups_width=8), out="pooler_output"),
    "mobilenet_v1": vision(tf.MobileNetV1Model, dict(depth_multiplier=0.25), out="pooler_output"),
    "mobilenet_v2": vision(tf.MobileNetV2Model, dict(depth_multiplier=0.25), out="pooler_output"),
    "efficientnet": vision(tf.EfficientNetModel, dict(image_size=32, width_coefficient=0.1,
                                                                       depth_coefficient=0.1, hidden_dim=128),
                           out="pooler_output"),
    "poolformer": vision(tf.PoolFormerModel, dict(hidden_sizes=[8, 16, 16, 16], depths=[1, 1, 1, 1])),
    "bit": vision(tf.BitModel, dict(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], num_groups=4),
                  out="pooler_output"),
    # audio
    "whisper_encoder": whisper_encoder,
    "wav2vec2": audio(tf.Wav2Vec2Model, dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                                          intermediate_size=64, conv_dim=(16, 16), conv_stride=(5, 4),
                                                          conv_kernel=(10, 8), num_conv_pos_embeddings=16,
                                                          num_conv_pos_embedding_groups=4)),
    "hubert": audio(tf.HubertModel, dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                                    intermediate_size=64, conv_dim=(16, 16), conv_stride=(5, 4),
                                                    conv_kernel=(10, 8), num_conv_pos_embeddings=16,
                                                    num_conv_pos_embedding_groups=4)),
    # multimodal towers
    "clip_vision": vision(tf.CLIPVisionModel, dict(hidden_size=32, num_hidden_layers=2,
                                                                  num_attention_heads=4, intermediate_size=64,
                                                                  image_size=32, patch_size=8),
                          out="pooler_output"),
    "clip_text": text(tf.CLIPTextModel, dict(**TEXT), out="pooler_output"),
    "siglip_vision": vision(tf.SiglipVisionModel, dict(hidden_size=32, num_hidden_layers=2,
                                                                        num_attention_heads=4, intermediate_size=64,
                                                                        image_size=32, patch_size=8),
                            out="pooler_output"),
}
