// Node definitions for the fake backend's /api/object_info, in ComfyUI's JSON
// shape (server.py node_info), for the nodes the tests' workflows use: the
// default graph's (CheckpointLoaderSimple, CLIPTextEncode, EmptyLatentImage,
// KSampler, VAEDecode, SaveImage), the component loaders whose file names
// the extension reads (UNETLoader, CLIPLoader, DualCLIPLoader,
// TripleCLIPLoader, VAELoader) and CheckpointSave. Inputs, defaults and
// options follow ComfyUI 0.3.64's nodes.py and comfy_extras.

/** Model files per folder (folder_paths), as /api/experiment/models/<folder> lists them. */
export const MODELS = {
  checkpoints: ['v1-5-pruned-emaonly-fp16.safetensors'],
  diffusion_models: ['unet.safetensors', 'flux1-dev.safetensors'],
  text_encoders: ['clip_g.safetensors', 'clip_l.safetensors', 't5xxl_fp16.safetensors'],
  vae: ['ae.safetensors', 'vae.safetensors'],
  loras: [],
  embeddings: [],
};

const SAMPLERS = ['euler', 'euler_ancestral', 'heun', 'dpm_2', 'dpmpp_2m', 'dpmpp_sde', 'ddim', 'uni_pc'];
const SCHEDULERS = ['simple', 'sgm_uniform', 'karras', 'exponential', 'ddim_uniform', 'beta', 'normal'];
const CLIP_TYPES = ['stable_diffusion', 'stable_cascade', 'sd3', 'stable_audio', 'mochi', 'ltxv', 'pixart', 'cosmos', 'lumina2', 'wan', 'hidream', 'chroma', 'ace', 'omnigen2', 'qwen_image'];

function node(name, displayName, category, required, outputs, { outputNode = false, description = '', hidden } = {}) {
  const input = { required };
  if (hidden) input.hidden = hidden;
  return {
    input,
    input_order: { required: Object.keys(required), ...(hidden ? { hidden: Object.keys(hidden) } : {}) },
    output: outputs.map(([type]) => type),
    output_is_list: outputs.map(() => false),
    output_name: outputs.map(([type, label]) => label ?? type),
    name,
    display_name: displayName,
    description,
    python_module: name === 'CheckpointSave' ? 'comfy_extras.nodes_model_merging' : 'nodes',
    category,
    output_node: outputNode,
    output_tooltips: outputs.map(() => ''),
  };
}

const combo = (options, extra = {}) => [options, extra];

export function objectInfo() {
  const defs = [
    node('CheckpointLoaderSimple', 'Load Checkpoint', 'loaders', {
      ckpt_name: combo(MODELS.checkpoints, { tooltip: 'The name of the checkpoint (model) to load.' }),
    }, [['MODEL'], ['CLIP'], ['VAE']], { description: 'Loads a diffusion model checkpoint, diffusion models are used to denoise latents.' }),
    node('UNETLoader', 'Load Diffusion Model', 'advanced/loaders', {
      unet_name: combo(MODELS.diffusion_models),
      weight_dtype: combo(['default', 'fp8_e4m3fn', 'fp8_e4m3fn_fast', 'fp8_e5m2']),
    }, [['MODEL']]),
    node('CLIPLoader', 'Load CLIP', 'advanced/loaders', {
      clip_name: combo(MODELS.text_encoders),
      type: combo(CLIP_TYPES),
    }, [['CLIP']]),
    node('DualCLIPLoader', 'DualCLIPLoader', 'advanced/loaders', {
      clip_name1: combo(MODELS.text_encoders),
      clip_name2: combo(MODELS.text_encoders),
      type: combo(['sdxl', 'sd3', 'flux', 'hunyuan_video', 'hidream']),
    }, [['CLIP']]),
    node('TripleCLIPLoader', 'TripleCLIPLoader', 'advanced/loaders', {
      clip_name1: combo(MODELS.text_encoders),
      clip_name2: combo(MODELS.text_encoders),
      clip_name3: combo(MODELS.text_encoders),
    }, [['CLIP']]),
    node('VAELoader', 'Load VAE', 'loaders', { vae_name: combo(MODELS.vae) }, [['VAE']]),
    node('CLIPTextEncode', 'CLIP Text Encode (Prompt)', 'conditioning', {
      text: ['STRING', { multiline: true, dynamicPrompts: true, tooltip: 'The text to be encoded.' }],
      clip: ['CLIP', { tooltip: 'The CLIP model used for encoding the text.' }],
    }, [['CONDITIONING']]),
    node('EmptyLatentImage', 'Empty Latent Image', 'latent', {
      width: ['INT', { default: 512, min: 16, max: 16384, step: 8 }],
      height: ['INT', { default: 512, min: 16, max: 16384, step: 8 }],
      batch_size: ['INT', { default: 1, min: 1, max: 4096 }],
    }, [['LATENT']]),
    node('KSampler', 'KSampler', 'sampling', {
      model: ['MODEL', {}],
      seed: ['INT', { default: 0, min: 0, max: 18446744073709551615, control_after_generate: true }],
      steps: ['INT', { default: 20, min: 1, max: 10000 }],
      cfg: ['FLOAT', { default: 8.0, min: 0.0, max: 100.0, step: 0.1, round: 0.01 }],
      sampler_name: combo(SAMPLERS),
      scheduler: combo(SCHEDULERS),
      positive: ['CONDITIONING', {}],
      negative: ['CONDITIONING', {}],
      latent_image: ['LATENT', {}],
      denoise: ['FLOAT', { default: 1.0, min: 0.0, max: 1.0, step: 0.01 }],
    }, [['LATENT']]),
    node('VAEDecode', 'VAE Decode', 'latent', { samples: ['LATENT', {}], vae: ['VAE', {}] }, [['IMAGE']]),
    node('SaveImage', 'Save Image', 'image', {
      images: ['IMAGE', {}],
      filename_prefix: ['STRING', { default: 'ComfyUI' }],
    }, [], { outputNode: true, hidden: { prompt: 'PROMPT', extra_pnginfo: 'EXTRA_PNGINFO' } }),
    node('CheckpointSave', 'Save Checkpoint', 'advanced/model_merging', {
      model: ['MODEL', {}],
      clip: ['CLIP', {}],
      vae: ['VAE', {}],
      filename_prefix: ['STRING', { default: 'checkpoints/ComfyUI' }],
    }, [], { outputNode: true, hidden: { prompt: 'PROMPT', extra_pnginfo: 'EXTRA_PNGINFO' } }),
  ];
  return Object.fromEntries(defs.map((def) => [def.name, def]));
}
