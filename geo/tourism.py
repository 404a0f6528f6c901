"""``special_tourism``: a designated tourist destination or protected area within a radius of the
town."""
from __future__ import annotations

import numpy as np

from .layers import Layers, geodesic_km
from .params import Params
from .results import Flag, Reason


class Sites:
    """The tourism-site layer and every town's geodesic distance (km) to each site, computed
    once."""

    def __init__(self, layers: Layers):
        t, s = layers.towns, layers.tourism
        self.n_towns = len(t)
        self.names = list(s["name_en"]) if len(s) else []
        self.kinds = np.array(list(s["kind"]) if len(s) else [], dtype=object)
        self.dist = geodesic_km(t.geometry.x.to_numpy()[:, None], t.geometry.y.to_numpy()[:, None],
                                s.geometry.x.to_numpy()[None, :], s.geometry.y.to_numpy()[None, :]
                                ) if len(s) else None

    def flags(self, params: Params) -> list[Flag]:
        """Per town (data order): 100 when a counted site lies within tourism_km, with the nearest
        named."""
        if self.dist is None:
            missing = Flag(None, Reason("no_layer", layer="tourism-site layer"))
            return [missing] * self.n_towns
        counted = np.isin(self.kinds, list(params.tourism_kinds))
        if not counted.any():
            return [Flag(0, Reason("no_tourism_kinds", limit=params.tourism_km,
                                                 param="tourism_km", unit="km"))] * self.n_towns
        return [self._flag(row, counted, params) for row in self.dist]

    def _flag(self, row: np.ndarray, counted: np.ndarray, params: Params) -> Flag:
        d = np.where(counted, row, np.inf)
        j = int(np.argmin(d))
        inside = bool(d[j] <= params.tourism_km)
        return Flag(100 if inside else 0,
                    Reason("tourism", inside=inside, measured=float(d[j]), limit=params.tourism_km,
                           param="tourism_km", unit="km", site=self.names[j],
                           site_kind=str(self.kinds[j])))
