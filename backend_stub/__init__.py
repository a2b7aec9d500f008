"""A stand-in for the Kartu Prakerja registration backend that fails the way the real one did.

The April 2020 surge broke e-mail verification, photo upload and, above all, the NIK check
against the civil registry. This stub serves the same funnel (register, verify e-mail, verify
NIK, upload a photo, join a training batch) as HTML pages and JSON, with the limits that made
it fail: a capacity of C concurrent requests with a bounded, timed wait queue (503), and a
civil-registry API of K concurrent calls with long-tailed latency (504). Everything is in
memory: registrations do not survive a restart.

Modules: ``app`` (the ASGI app and its routes), ``settings``, ``cli``, ``clock`` (the time
seam), ``capacity`` (the limiter), ``throttle`` and ``timing`` (middleware), ``registry``
(the civil-registry API), ``signup`` and ``steps`` (the funnel), ``admin`` (``/_stub/*``),
``auth``, ``payload``, ``photo``, ``nik`` and ``validation`` (input checks), ``store``,
``stats``, ``render`` and ``i18n`` (HTML or JSON, Indonesian or English), ``errors``,
``experiment`` (a small load experiment against a real server).

It imports nothing from ``gateway`` or ``waitingroom``: it is the thing they protect.
"""
