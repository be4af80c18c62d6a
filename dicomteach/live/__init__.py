"""Live class: a session the instructor leads and the class follows, draws on and answers in.

A hub service (``/services/live/``, registered by ``dicomteach/hub/config.py``)
holds each session as a CRDT document (pycrdt, the Yjs engine) that every
participant's widget joins by websocket through the hub's proxy; the service
checks who may change what (docs/live.md; docs/decisions.md, decision 36).
Like ``hub``, nothing in the library imports it.

- :mod:`dicomteach.live.document`: the document's parts and the guard on every update;
- :mod:`dicomteach.live.store`: a session's folder, its facts and its log of updates;
- :mod:`dicomteach.live.sessions`: sessions in memory, the sync protocol, join codes;
- :mod:`dicomteach.live.save`: each layer as the usual ``.npz`` answer and a DICOM SEG;
- :mod:`dicomteach.live.service`: the tornado app the hub runs (``python -m dicomteach.live``).
"""

from __future__ import annotations
