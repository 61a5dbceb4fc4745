"""Name faces with a classifier trained on labelled embeddings (SVM, logistic regression, k-NN, centroid)."""
from facerec.classification.classifiers import CLASSIFIERS, Classifier, make_classifier
from facerec.classification.evaluate import ClassifierReport, evaluate_classifier
from facerec.classification.model import FaceClassifier
from facerec.classification.train import TrainResult, train_classifier
from facerec.decisions import UNKNOWN, Prediction

__all__ = ["CLASSIFIERS", "Classifier", "make_classifier", "ClassifierReport", "evaluate_classifier", "UNKNOWN", "FaceClassifier",
           "Prediction", "TrainResult", "train_classifier"]
