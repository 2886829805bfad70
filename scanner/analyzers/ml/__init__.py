"""Model analyzers: pickle-family, ONNX, TensorFlow, Keras, MXNet, safetensors, descriptors.

Each module holds one analyzer registered by ``module:Class`` in ``scanner.analyzers.BUILTIN``.
None of them imports torch, TensorFlow or MXNet, and none of them loads a model: formats are
walked structurally (pickle opcodes, protobuf wire format, HDF5 attributes, JSON headers).
"""
