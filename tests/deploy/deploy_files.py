"""Load the YAML and JSON files of deploy/."""

import json
import os

import yaml


class DeployFileError(Exception):
    """A file of deploy/ is missing or does not parse."""


def load_yaml_documents(path):
    """Return the documents of the YAML file at `path`, empty documents left out."""
    try:
        with open(path, encoding="utf-8") as stream:
            return [document for document in yaml.safe_load_all(stream) if document is not None]
    except (OSError, yaml.YAMLError) as error:
        raise DeployFileError(f"{path}: {error}") from None


def load_yaml(path):
    """Return the single document of the YAML file at `path`."""
    documents = load_yaml_documents(path)
    if len(documents) != 1:
        raise DeployFileError(f"{path}: expected one YAML document, found {len(documents)}")
    return documents[0]


def load_json(path):
    """Return the parsed JSON file at `path`."""
    try:
        with open(path, encoding="utf-8") as stream:
            return json.load(stream)
    except (OSError, ValueError) as error:
        raise DeployFileError(f"{path}: {error}") from None


def files_under(directory, extensions):
    """Return the sorted paths under `directory` whose names end with one of `extensions`."""
    paths = []
    for root, _, names in os.walk(directory):
        paths.extend(os.path.join(root, name) for name in names if name.endswith(tuple(extensions)))
    return sorted(paths)


def check_all_files_parse(deploy_dir):
    """Return an error for each YAML or JSON file under `deploy_dir` that does not parse."""
    errors = []
    for path in files_under(deploy_dir, (".yaml", ".yml")):
        try:
            load_yaml_documents(path)
        except DeployFileError as error:
            errors.append(str(error))
    for path in files_under(deploy_dir, (".json",)):
        try:
            load_json(path)
        except DeployFileError as error:
            errors.append(str(error))
    return errors
