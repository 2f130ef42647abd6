#ifndef CHARRNN_NCCL_H
#define CHARRNN_NCCL_H
// NCCL's ncclUniqueId, which ncclCommInitRank takes by value: declared here so that Swift can pass it
// to the library charrnn loads at run time (nccl.h is not needed to build).
typedef struct { char internal[128]; } crn_nccl_unique_id;
#endif
