"""What the zoo's ensembles share: their members, given as models or as configs."""

import keras


def ensemble_members(members, keys):
    """The models of an ensemble from `members` (models, or their serialized configs when a
    saved ensemble loads), checked to agree on the config entries `keys`."""
    members = [
        keras.saving.deserialize_keras_object(m) if isinstance(m, dict) else m for m in members
    ]
    if not members:
        raise ValueError("an ensemble needs at least one member")
    first = members[0].get_config()
    for member in members[1:]:
        config = member.get_config()
        for key in keys:
            if config[key] != first[key]:
                raise ValueError(
                    f"ensemble members differ in {key}: {first[key]!r} and {config[key]!r}"
                )
    return members
