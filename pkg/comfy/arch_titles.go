package comfy

// archTitles name each ComfyUI class in plain words, for messages, the
// page and the ComfyUI tab.
var archTitles = map[string]string{
	"LotusD": "Lotus depth", "Stable_Zero123": "Stable Zero123",
	"SD15_instructpix2pix": "Stable Diffusion 1.5 InstructPix2Pix", "SD15": "Stable Diffusion 1.5", "SD20": "Stable Diffusion 2.x",
	"SD21UnclipL": "Stable Diffusion 2.1 unCLIP (L)", "SD21UnclipH": "Stable Diffusion 2.1 unCLIP (H)", "SDXL_instructpix2pix": "Stable Diffusion XL InstructPix2Pix",
	"SDXLRefiner": "Stable Diffusion XL refiner", "SDXL": "Stable Diffusion XL", "SSD1B": "SSD-1B (distilled SDXL)", "KOALA_700M": "KOALA 700M (distilled SDXL)",
	"KOALA_1B": "KOALA 1B (distilled SDXL)", "Segmind_Vega": "Segmind Vega (distilled SDXL)", "SD_X4Upscaler": "Stable Diffusion x4 upscaler",
	"Stable_Cascade_C": "Stable Cascade stage C", "Stable_Cascade_B": "Stable Cascade stage B",
	"SV3D_u": "SV3D (u)", "SV3D_p": "SV3D (p)", "SD3": "Stable Diffusion 3", "StableAudio3": "Stable Audio 3",
	"StableAudio": "Stable Audio", "AuraFlow": "AuraFlow", "PixArtAlpha": "PixArt-α", "PixArtSigma": "PixArt-Σ",
	"HunyuanDiT": "Hunyuan-DiT", "HunyuanDiT1": "Hunyuan-DiT 1.0", "FluxInpaint": "FLUX.1 Fill", "Flux": "FLUX.1 [dev]",
	"LongCatImage": "LongCat-Image", "FluxSchnell": "FLUX.1 [schnell]", "GenmoMochi": "Mochi", "LTXV": "LTX-Video",
	"LTXAV": "LTX-Video (audio-video)", "MiniMaxH3": "MiniMax-H3 (audio+video)",
	"HunyuanVideo15_SR_Distilled": "HunyuanVideo 1.5 super-resolution", "HunyuanVideo15": "HunyuanVideo 1.5",
	"HunyuanImage21Refiner": "HunyuanImage 2.1 refiner", "HunyuanImage21": "HunyuanImage 2.1",
	"HunyuanVideoSkyreelsI2V": "SkyReels (HunyuanVideo) image-to-video", "HunyuanVideoI2V": "HunyuanVideo image-to-video",
	"HunyuanVideo": "HunyuanVideo", "CosmosT2V": "Cosmos text-to-video", "CosmosI2V": "Cosmos image-to-video",
	"CosmosT2IPredict2": "Cosmos Predict2 text-to-image", "CosmosI2VPredict2": "Cosmos Predict2 image-to-video",
	"ZImagePixelSpace": "Z-Image pixel-space", "ZImage": "Z-Image", "PiD": "PiD pixel diffusion decoder",
	"PixelDiTT2I": "PixelDiT text-to-image", "Lumina2": "Lumina Image 2.0", "WAN22_T2V": "Wan 2.2",
	"WAN21_CausalAR_T2V": "Wan 2.1 causal autoregressive", "WAN21_T2V": "Wan 2.1 text-to-video",
	"WAN21_I2V": "Wan 2.1 image-to-video", "WAN21_FunControl2V": "Wan 2.1 Fun Control", "WAN21_Vace": "Wan 2.1 VACE",
	"WAN21_Camera": "Wan 2.1 camera control", "WAN22_Camera": "Wan 2.2 camera control", "WAN22_S2V": "Wan 2.2 speech-to-video",
	"WAN21_HuMo": "Wan 2.1 HuMo", "WAN22_Animate": "Wan 2.2 Animate", "WAN_Animate2": "Wan Animate 2",
	"WAN21_FlowRVS": "FlowRVS (Wan 2.1)", "WAN21_SCAIL": "SCAIL (Wan 2.1)", "WAN21_SCAIL2": "SCAIL 2 (Wan 2.1)",
	"WAN22_WanDancer": "WanDancer (Wan 2.2)", "Hunyuan3Dv2mini": "Hunyuan3D 2 mini", "Hunyuan3Dv2": "Hunyuan3D 2.0",
	"Hunyuan3Dv2_1": "Hunyuan3D 2.1", "TripoSplat": "TripoSplat (image to 3D Gaussians)", "HiDream": "HiDream",
	"HiDreamO1": "HiDream-O1 (pixel-space)", "SenseNovaU15": "SenseNova U1.5 (pixel-space)", "Chroma": "Chroma",
	"SeedVR2": "SeedVR2 video restoration", "ChromaRadiance": "Chroma Radiance", "ACEStep": "ACE-Step",
	"ACEStep15": "ACE-Step 1.5", "MiniMaxMusic3": "MiniMax Music 3", "YuE2": "YuE2", "Omnigen2": "OmniGen2",
	"Boogu": "Boogu-Image", "MageFlow": "Mage-Flow", "QwenImage": "Qwen-Image", "JoyImage": "JoyImage",
	"Ideogram4": "Ideogram 4", "Krea2": "Krea 2", "Flux2": "FLUX.2", "Lens": "Microsoft Lens",
	"Kandinsky5Image": "Kandinsky 5 image", "Kandinsky5": "Kandinsky 5 video", "Anima": "Anima",
	"RT_DETR_v4": "RT-DETR v4 (object detector)", "ErnieImage": "ERNIE-Image", "SAM3": "SAM 3 (segmentation)",
	"SAM31": "SAM 3.1 (segmentation)", "CogVideoX_Inpaint": "CogVideoX inpainting", "CogVideoX_I2V": "CogVideoX image-to-video",
	"CogVideoX_T2V": "CogVideoX text-to-video", "SVD_img2vid": "Stable Video Diffusion", "Trellis2": "TRELLIS 2 (image to 3D)",
	"DepthAnything3": "Depth Anything 3 (depth estimator)",
}

// Title is the class in plain words (its class name when unlisted).
func (a *Arch) Title() string {
	if t, ok := archTitles[a.Class]; ok {
		return t
	}
	return a.Class
}
