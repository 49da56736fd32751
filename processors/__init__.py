"""Pure stages of the pipeline: plain data in, plain data out.

Nothing here imports faust, aiokafka, kafka or sqlalchemy; ``streams/`` wires these
functions to topics and ``storage/`` writes their results.
"""
