"""Layers each site keeps for itself: BatchNorm (FedBN) and the output layer (FedPer).

FedBN (Li et al., ICLR 2021) averages every layer but BatchNorm. A site whose rows differ in
distribution from the others' (one product type per plant, a plant with far more failures)
normalises its activations with statistics of *its* data, while training; averaging those
layers forces every site to use the fleet's, which is what kept the federated CNN and hybrid
~0.1 F1 below their centralized models on AI4I (docs/benchmarks/quality-pilots.md, fourth round).
FedPer (Arivazhagan et al., 2019) keeps the last layers at each site: under label skew a
site's failure rate is its own, and a shared output layer has to average priors that differ
by an order of magnitude between sites (docs/benchmarks/quality-pilots.md, fifth round).

:class:`SiteLayers` is the server's record of each site's own layers: a site trains from the
global model with its own layers put back in (:meth:`SiteLayers.personalize`), and is scored
the same way. The global model still holds the *average* of the kept layers (the
strategy aggregates every key), which is what a site that has not trained yet, or a new plant,
starts from. Keeping the record on the server, not in each site's process, is what makes
round checkpoints, ``--resume`` and a restarted Flower SuperNode see the same layers; the
layers are a few kilobytes per site, so they are saved with every round.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors
from torch import Tensor, nn

from networkfed.core.errors import CheckpointError
from networkfed.models.checkpoints import header_metadata

__all__ = ["SiteLayers", "batchnorm_keys", "head_keys", "local_layer_keys"]


def batchnorm_keys(model: nn.Module) -> frozenset[str]:
    """State-dict keys of every BatchNorm layer: weight, bias and the running statistics."""
    keys = set()
    for name, module in model.named_modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            prefix = f"{name}." if name else ""
            keys.update(prefix + key for key in module.state_dict())
    return frozenset(keys)


def head_keys(model: nn.Module) -> frozenset[str]:
    """State-dict keys of the output layer: the last ``nn.Linear`` of the model."""
    linears = [name for name, module in model.named_modules() if isinstance(module, nn.Linear)]
    if not linears:
        return frozenset()
    prefix = f"{linears[-1]}." if linears[-1] else ""
    return frozenset(prefix + key for key in model.get_submodule(linears[-1]).state_dict())


def local_layer_keys(model: nn.Module, *, batchnorm: bool, head: bool) -> frozenset[str]:
    """The keys each site keeps: BatchNorm's (FedBN), the output layer's (FedPer), or both."""
    return (batchnorm_keys(model) if batchnorm else frozenset()) | (
        head_keys(model) if head else frozenset())


class SiteLayers:
    """Each site's own copy of the layers in ``keys`` (empty until the site has trained).

    Parameters
    ----------
    keys
        The state-dict keys a site keeps (:func:`local_layer_keys`); no key means there is
        nothing to keep (FedBN on the LSTM), and every site then uses the global model.
    """

    def __init__(self, keys: Iterable[str]) -> None:
        self.keys = frozenset(keys)
        self.states: dict[str, dict[str, Tensor]] = {}

    def personalize(self, global_state: Mapping[str, Tensor], site_id: str) -> dict[str, Tensor]:
        """The global state with ``site_id``'s own layers in place of the averaged ones."""
        own = self.states.get(site_id)
        return dict(global_state) if not own else {**global_state, **own}

    def keep(self, site_id: str, trained_state: Mapping[str, Tensor]) -> None:
        """Remember a site's layers after it trained (copied: the update's memory is freed)."""
        if self.keys:
            self.states[site_id] = {key: trained_state[key].clone() for key in sorted(self.keys)}

    # --- files --------------------------------------------------------------------------------
    def to_bytes(self, site_ids: Iterable[str]) -> bytes:
        """Safetensors bytes; ``site_ids`` (the federation's sites) travel in the metadata."""
        sites = sorted(self.states)
        tensors = {
            f"{index}/{key}": tensor.contiguous()
            for index, site in enumerate(sites)
            for key, tensor in self.states[site].items()
        }
        metadata = {"sites_with_layers": json.dumps(sites),
                    "federation_sites": json.dumps(sorted(site_ids)),
                    "keys": json.dumps(sorted(self.keys))}
        return save_safetensors(tensors, metadata=metadata)

    @classmethod
    def from_bytes(cls, data: bytes, where: object) -> tuple[SiteLayers, list[str]]:
        """The layers saved by :meth:`to_bytes`, and the federation's sites (``where``: the file,
        named in errors)."""
        try:
            metadata = header_metadata(data)
            tensors = load_safetensors(data)
            layers = cls(json.loads(metadata["keys"]))
            keys = sorted(layers.keys)
            for index, site in enumerate(json.loads(metadata["sites_with_layers"])):
                layers.states[site] = {key: tensors[f"{index}/{key}"] for key in keys}
            return layers, list(json.loads(metadata["federation_sites"]))
        except (KeyError, ValueError, TypeError, SafetensorError) as error:
            raise CheckpointError(where, f"cannot read the sites' own layers ({error})") from None

