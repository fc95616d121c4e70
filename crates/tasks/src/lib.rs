//! reasoner-tasks: checkable problem generators, answer extraction, grading, rewards and
//! evaluation metrics.
