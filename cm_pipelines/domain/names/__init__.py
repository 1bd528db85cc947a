"""Finding people's names in free text, offline and deterministically (see ``recogniser``)."""
