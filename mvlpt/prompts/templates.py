"""Hand-written prompt templates the official methods use (plain data, no logic).

* ``CUSTOM_TEMPLATES``: CoOp's one template per data set (KgCoOp's hand-crafted target, ProGrad's
  teacher, CLIP-Adapter's text side take the template of ``DATASET.NAME``).
* ``IMAGENET_TEMPLATES_60``: PromptSRC's text-teacher ensemble: 60 of the 80 ImageNet templates of
  the CLIP paper's prompt-engineering notebook, in the order PromptSRC lists them (the order only
  affects the summation rounding of the template mean).
"""

CUSTOM_TEMPLATES = {
    "OxfordPets": "a photo of a {}, a type of pet.", "OxfordFlowers": "a photo of a {}, a type of flower.",
    "FGVCAircraft": "a photo of a {}, a type of aircraft.", "DescribableTextures": "{} texture.",
    "EuroSAT": "a centered satellite photo of {}.", "StanfordCars": "a photo of a {}.",
    "Food101": "a photo of {}, a type of food.", "SUN397": "a photo of a {}.", "Caltech101": "a photo of a {}.",
    "UCF101": "a photo of a person doing {}.", "ImageNet": "a photo of a {}.",
}


def dataset_template(name) -> str:
    """The official template of a CoOp data set name (ImageNet variants, unknown names: ``"a photo of a {}."``)."""
    return CUSTOM_TEMPLATES.get(str(name), "a photo of a {}.")


IMAGENET_TEMPLATES_60 = tuple(t + "." for t in """\
a photo of a {}|a bad photo of a {}|a photo of many {}|a sculpture of a {}|a photo of the hard to see {}
a low resolution photo of the {}|a rendering of a {}|graffiti of a {}|a bad photo of the {}
a cropped photo of the {}|a tattoo of a {}|the embroidered {}|a photo of a hard to see {}
a bright photo of a {}|a photo of a clean {}|a photo of a dirty {}|a dark photo of the {}|a drawing of a {}
a photo of my {}|the plastic {}|a photo of the cool {}|a close-up photo of a {}
a black and white photo of the {}|a painting of the {}|a painting of a {}|a pixelated photo of the {}
a sculpture of the {}|a bright photo of the {}|a cropped photo of a {}|a plastic {}|a photo of the dirty {}
a jpeg corrupted photo of a {}|a blurry photo of the {}|a photo of the {}|a good photo of the {}
a rendering of the {}|a {} in a video game|a photo of one {}|a doodle of a {}|a close-up photo of the {}
the origami {}|the {} in a video game|a sketch of a {}|a doodle of the {}|a origami {}
a low resolution photo of a {}|the toy {}|a rendition of the {}|a photo of the clean {}|a photo of a large {}
a rendition of a {}|a photo of a nice {}|a photo of a weird {}|a blurry photo of a {}|a cartoon {}
art of a {}|a sketch of the {}|a embroidered {}|a pixelated photo of a {}|itap of the {}""".replace("\n", "|").split("|"))
assert len(IMAGENET_TEMPLATES_60) == 60
