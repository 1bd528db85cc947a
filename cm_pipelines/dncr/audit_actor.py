"""Who the do-not-call capability is in the audit log: promotions, rejections and exports are
recorded under this actor (the ``cm dncr`` command appends ``:cli``)."""

ACTOR = "pipeline:dncr"
