// Plain formatting helpers for the page. They only turn numbers into words;
// every decision about checkpoint contents is made in the worker.

const SLOT_NOUNS = {
  model: 'diffusion model',
  clip: 'text encoder',
  vae: 'VAE',
};

/** The human noun for a slot ("model" -> "diffusion model"). */
export function slotNoun(slot) {
  return SLOT_NOUNS[slot] ?? String(slot);
}

/**
 * Decimal units (MB = 10^6 bytes), as file managers and the download shelf
 * show them, so the numbers the user compares are the same everywhere.
 */
export function formatBytes(bytes) {
  if (!Number.isFinite(bytes) || bytes < 0) return '–';
  if (bytes < 1000) return `${bytes} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = -1;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  const digits = value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${value.toFixed(digits)} ${units[unit]}`;
}

/**
 * "0.4 s", "3.2 s", "4 s", "42 s", "4 min 05 s", "1 h 02 min". Short times
 * keep a decimal, so a quick save never reads "in 0 s".
 */
export function formatDuration(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return '–';
  if (seconds < 1 || (seconds < 9.95 && !Number.isInteger(seconds))) return `${Math.max(0.1, seconds).toFixed(1)} s`;
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

/** "F16" or "F16 ×1128, F32 ×2", largest count first. */
export function formatDTypes(dtypes) {
  const entries = Object.entries(dtypes ?? {}).filter(([, n]) => n > 0);
  if (entries.length === 0) return 'no tensors';
  if (entries.length === 1) return entries[0][0];
  entries.sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  return entries.map(([dtype, n]) => `${dtype} ×${n}`).join(', ');
}

/** One line describing a component found in a file. */
export function describeComponent(component, architecture) {
  const parts = [];
  if (component.slot === 'model') {
    parts.push(`${component.kind || architecture || 'unknown'} diffusion model`);
  } else if (component.slot === 'clip') {
    parts.push(`${component.kind || 'unknown'} text encoder`);
  } else if (component.slot === 'vae') {
    parts.push(`${component.kind ? `${component.kind} ` : ''}VAE`);
  } else {
    parts.push(String(component.kind || component.slot));
  }
  if (component.layout) parts.push(`${component.layout} layout`);
  parts.push(`${component.tensors} tensors`);
  parts.push(formatBytes(component.bytes));
  return parts.join(' · ');
}

/** What a report says a file holds, in plain words, for "holds X, not Y" messages. */
export function describeContents(report) {
  const comps = report?.components ?? [];
  if (comps.length === 0) return 'no diffusion model, text encoder or VAE';
  return comps.map((c) => `a ${componentName(c, report.architecture)}`).join(', ');
}

/** Progress line: "512 MB of 2.13 GB · 450 MB/s · about 4 s left". */
export function formatProgress({ done, total, mbps, etaSeconds }) {
  const parts = [`${formatBytes(done)} of ${formatBytes(total)}`];
  if (Number.isFinite(mbps) && mbps > 0) parts.push(`${mbps.toFixed(0)} MB/s`);
  if (Number.isFinite(etaSeconds) && etaSeconds >= 0 && done < total) {
    parts.push(`about ${formatDuration(Math.max(1, Math.ceil(etaSeconds)))} left`);
  }
  return parts.join(' · ');
}

/** Long metadata values are cut for display only; they are never parsed as HTML. */
export function clipText(text, max = 4000) {
  const s = String(text);
  return s.length > max ? `${s.slice(0, max)}… (${s.length - max} more characters)` : s;
}

// ---- plain words ---------------------------------------------------------------
// The engine names models by ComfyUI's class (pkg/comfy/arch.go, from
// comfy.supported_models); a newcomer knows them by their published names.
const ARCHITECTURE_NAMES = {
  SD15: 'Stable Diffusion 1.5',
  SD15_instructpix2pix: 'Stable Diffusion 1.5 InstructPix2Pix',
  SD20: 'Stable Diffusion 2.x',
  SD21UnclipL: 'Stable Diffusion 2.1 unCLIP (L)',
  SD21UnclipH: 'Stable Diffusion 2.1 unCLIP (H)',
  SD_X4Upscaler: 'Stable Diffusion x4 upscaler',
  LotusD: 'Lotus depth',
  Stable_Zero123: 'Stable Zero123',
  SDXL: 'Stable Diffusion XL',
  SDXLRefiner: 'Stable Diffusion XL refiner',
  SDXL_instructpix2pix: 'Stable Diffusion XL InstructPix2Pix',
  SSD1B: 'SSD-1B (distilled SDXL)',
  Segmind_Vega: 'Segmind Vega (distilled SDXL)',
  KOALA_700M: 'KOALA 700M (distilled SDXL)',
  KOALA_1B: 'KOALA 1B (distilled SDXL)',
  SVD_img2vid: 'Stable Video Diffusion',
  SV3D_u: 'SV3D (u)',
  SV3D_p: 'SV3D (p)',
  SD3: 'Stable Diffusion 3',
  StableAudio: 'Stable Audio',
  Stable_Cascade_C: 'Stable Cascade stage C',
  Stable_Cascade_B: 'Stable Cascade stage B',
  AuraFlow: 'AuraFlow',
  PixArtAlpha: 'PixArt-α',
  PixArtSigma: 'PixArt-Σ',
  HunyuanDiT: 'Hunyuan-DiT',
  HunyuanDiT1: 'Hunyuan-DiT 1.0',
  Flux: 'FLUX.1 [dev]',
  FluxSchnell: 'FLUX.1 [schnell]',
  FluxInpaint: 'FLUX.1 Fill',
  Flux2: 'FLUX.2',
  Chroma: 'Chroma',
  ChromaRadiance: 'Chroma Radiance',
  GenmoMochi: 'Mochi',
  LTXV: 'LTX-Video',
  LTXAV: 'LTX-Video (audio-video)',
  HunyuanVideo: 'HunyuanVideo',
  HunyuanVideoI2V: 'HunyuanVideo image-to-video',
  HunyuanVideoSkyreelsI2V: 'SkyReels (HunyuanVideo) image-to-video',
  HunyuanVideo15: 'HunyuanVideo 1.5',
  HunyuanVideo15_SR_Distilled: 'HunyuanVideo 1.5 super-resolution',
  HunyuanImage21: 'HunyuanImage 2.1',
  HunyuanImage21Refiner: 'HunyuanImage 2.1 refiner',
  Hunyuan3Dv2: 'Hunyuan3D 2.0',
  Hunyuan3Dv2_1: 'Hunyuan3D 2.1',
  CosmosT2V: 'Cosmos text-to-video',
  CosmosI2V: 'Cosmos image-to-video',
  CosmosT2IPredict2: 'Cosmos Predict2 text-to-image',
  CosmosI2VPredict2: 'Cosmos Predict2 image-to-video',
  Lumina2: 'Lumina Image 2.0',
  ZImage: 'Z-Image',
  WAN21_T2V: 'Wan 2.1 text-to-video',
  WAN21_I2V: 'Wan 2.1 image-to-video',
  WAN21_FunControl2V: 'Wan 2.1 Fun Control',
  WAN21_Camera: 'Wan 2.1 camera control',
  WAN21_Vace: 'Wan 2.1 VACE',
  WAN21_HuMo: 'Wan 2.1 HuMo',
  WAN22_T2V: 'Wan 2.2',
  WAN22_S2V: 'Wan 2.2 speech-to-video',
  WAN22_Camera: 'Wan 2.2 camera control',
  WAN22_Animate: 'Wan 2.2 Animate',
  HiDream: 'HiDream',
  ACEStep: 'ACE-Step',
  Omnigen2: 'OmniGen2',
  QwenImage: 'Qwen-Image',
  Kandinsky5: 'Kandinsky 5 video',
  Kandinsky5Image: 'Kandinsky 5 image',
};

/**
 * The published name of a ComfyUI model class ("SDXL" -> "Stable Diffusion XL"). Classes
 * not listed here take the engine's own plain name (an Inspect report's requires.title),
 * else the class as given.
 */
export function architectureName(architectureClass, engineTitle) {
  const title = typeof engineTitle === 'string' && engineTitle ? engineTitle : null; // not a map() index
  return ARCHITECTURE_NAMES[architectureClass] ?? title ?? String(architectureClass || 'unknown');
}

// VAE families the engine reports (pkg/comfy/detect_vae.go), said by
// what they go with; other families use the engine's own detail text.
const VAE_NAMES = {
  kl4: 'VAE for Stable Diffusion 1.x, 2.x and XL',
  kl16: 'VAE for SD3, FLUX.1 and similar models',
  kl32: 'VAE for FLUX.2',
};

// Bits per weight of the float dtypes, for "16-bit"; integer dtypes in a
// model file are quantized weights or tokenizer blobs, said as such.
const DTYPE_WORDS = {
  F64: '64-bit', F32: '32-bit', F16: '16-bit', BF16: '16-bit (bfloat16)',
  F8_E4M3: '8-bit (fp8)', F8_E5M2: '8-bit (fp8)', F8_E4M3FNUZ: '8-bit (fp8)', F8_E5M2FNUZ: '8-bit (fp8)',
  F8_E8M0: '8-bit scales', F6_E2M3: '6-bit (fp6)', F6_E3M2: '6-bit (fp6)', F4: '4-bit (fp4)',
  I8: '8-bit integers', U8: '8-bit integers',
};

/**
 * The precision of a file in words: "16-bit", "mostly 8-bit (fp8)" when
 * one dtype has most but not all tensors. dtypes counts tensors per dtype
 * (the engine's report.dtypes).
 */
export function precisionWords(dtypes) {
  const entries = Object.entries(dtypes ?? {}).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]);
  if (entries.length === 0) return '';
  const total = entries.reduce((sum, [, n]) => sum + n, 0);
  const [dtype, count] = entries[0];
  const words = DTYPE_WORDS[dtype] ?? dtype;
  if (entries.every(([d]) => (DTYPE_WORDS[d] ?? d) === words)) return words;
  // A few F32 norms or int tokenizer blobs beside F16 weights are normal.
  return count / total >= 0.9 ? words : `mostly ${words}`;
}

/** What a component is, in plain words: "Stable Diffusion XL diffusion model", "CLIP-L text encoder". */
export function componentName(component, architecture, engineTitle) {
  if (component.slot === 'model') return `${architectureName(component.kind || architecture, engineTitle)} diffusion model`;
  if (component.slot === 'clip') return component.detail || `${component.kind || 'unknown'} text encoder`;
  if (component.slot === 'vae') return VAE_NAMES[component.kind] ?? component.detail ?? 'VAE';
  return String(component.detail || component.kind || component.slot);
}

/**
 * One line a newcomer reads: what the component is, its precision and
 * size. "Stable Diffusion XL diffusion model, 16-bit, 5.14 GB".
 */
export function plainSummary(component, report) {
  const parts = [componentName(component, report?.architecture, report?.requires?.title)];
  const precision = precisionWords(report?.dtypes);
  if (precision) parts.push(precision);
  parts.push(formatBytes(component.bytes));
  return parts.join(', ');
}
