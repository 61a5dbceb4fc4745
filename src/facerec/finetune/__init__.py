"""Fine-tuning: a small head trained with FaceNet's triplet loss on frozen base embeddings.

Training (``batches``, ``loss``, ``head``, ``train``, ``export``, ``workflow``) needs the ``finetune``
extra (PyTorch, CPU). Using a trained head needs only onnxruntime and lives beside the embedders
(:mod:`facerec.recognition.head_card`, :mod:`facerec.recognition.finetuned`): the head is exported
to ONNX beside a JSON card, and ``--model 'arcface_mbf>my_head/'`` runs it on top of the base.
"""
