// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

import {IInferaConsumer} from "../interfaces/IInferaConsumer.sol";
import {IJobRegistry} from "../interfaces/IJobRegistry.sol";
import {ModelRegistry} from "../ModelRegistry.sol";

/// @title InferaConsumer
/// @notice Base for a contract that requests inferences and acts on their verified results.
///         A subclass calls `_request` (or `_requestPaidBy`) and implements `_onResult`.
/// @dev Request/fulfil in the Chainlink manner: only the JobRegistry fixed at construction may
///      deliver, only for a job this contract requested and has not been delivered yet; the
///      pending entry is deleted and the delivery emitted before the hook runs.
///
///      The registry calls back with a fixed gas limit (its policy's callbackGasLimit, 200,000 on
///      the devnet and in `scripts/deploy.py`) and never retries: if `_onResult` reverts or runs
///      out of gas the job is still accepted and the nodes paid, the registry emits
///      CallbackDelivered(jobId, this, false), this contract's state is rolled back to before the
///      call (the job stays pending here) and the result is not acted on. So keep the hook cheap
///      and bounded (no unbounded loops, a few storage writes, no calls to untrusted contracts),
///      measure it against that limit, and never let it revert on a result it does not like:
///      record the outcome instead.
///
///      A job that the registry refunds (no quorum) never calls back: its fee returns to this
///      contract and its id stays pending.
abstract contract InferaConsumer is IInferaConsumer {
    using SafeERC20 for IERC20;

    // ------------------------------------------------------------- immutables
    /// @dev The only address allowed to deliver results. Trusted and fixed at construction: every
    ///      entry point of JobRegistry is nonReentrant, and it calls back only from finalize.
    /// @custom:security non-reentrant
    IJobRegistry private immutable _registry;
    /// @dev INFER, as the registry charges it. InferToken is a plain OpenZeppelin ERC20 (no
    ///      transfer hooks), so paying a fee cannot re-enter this contract.
    /// @custom:security non-reentrant
    IERC20 private immutable _token;
    /// @dev Where a model's fee is read, the registry's own model registry.
    ModelRegistry private immutable _models;

    // ------------------------------------------------------------------ state
    mapping(uint256 jobId => bool) private _pending;

    // ----------------------------------------------------------------- events
    /// @notice Jobs `firstJobId` .. `firstJobId + count - 1` were submitted with a callback; `fee`
    ///         INFER in total was paid for them by `payer` (this contract when it paid itself).
    event InferaJobsRequested(uint256 indexed firstJobId, uint256 count, uint256 fee, address indexed payer);
    /// @notice The verified result of a job this contract requested arrived (and is no longer pending).
    event InferaResultReceived(uint256 indexed jobId, bytes32 resultHash);

    // ----------------------------------------------------------------- errors
    /// @notice `caller` is not the JobRegistry this contract submits to, so it may not deliver.
    ///         Selector 0x616222d4.
    error InferaConsumerNotRegistry(address caller);
    /// @notice Job `jobId` was not requested by this contract, or its result was delivered already.
    ///         Selector 0x90132a68.
    error InferaConsumerUnknownJob(uint256 jobId);

    // ------------------------------------------------------------ constructor
    /// @param registry_ The JobRegistry to submit to; the only address that may deliver results
    ///        (an address without the registry's code reverts here, reading its token).
    constructor(IJobRegistry registry_) {
        _registry = registry_;
        _token = registry_.token();
        _models = registry_.models();
    }

    // --------------------------------------------------------------- external
    /// @inheritdoc IInferaConsumer
    /// @dev Checks the sender and the job, forgets the job, emits, then runs the subclass hook.
    function onInferaResult(uint256 jobId, bytes32 resultHash, bytes calldata vector) external {
        if (msg.sender != address(_registry)) revert InferaConsumerNotRegistry(msg.sender);
        if (!_pending[jobId]) revert InferaConsumerUnknownJob(jobId);
        delete _pending[jobId];
        emit InferaResultReceived(jobId, resultHash);
        _onResult(jobId, resultHash, vector);
    }

    /// @notice Whether `jobId` was requested by this contract and its result has not arrived yet.
    /// @param jobId The job.
    /// @return True while the job is waiting for its result (or was refunded without one).
    function isPending(uint256 jobId) external view returns (bool) {
        return _pending[jobId];
    }

    /// @notice The JobRegistry this contract submits to and accepts results from.
    /// @return The registry.
    function registry() external view returns (IJobRegistry) {
        return _registry;
    }

    // --------------------------------------------------------------- internal
    /// @dev Submit one job per input for `modelId`, paying the model's current fee from this
    ///      contract's own INFER; returns the first job's id (the rest follow in order).
    function _request(uint32 modelId, string[] memory inputs) internal returns (uint256 firstJobId) {
        return _submit(address(this), modelId, inputs);
    }

    /// @dev As `_request`, but first pulls the whole fee from `payer` (who must have approved
    ///      this contract), so that callers cannot spend the fees this contract holds.
    function _requestPaidBy(address payer, uint32 modelId, string[] memory inputs)
        internal
        returns (uint256 firstJobId)
    {
        return _submit(payer, modelId, inputs);
    }

    /// @dev The INFER token fees are paid in.
    function _inferToken() internal view returns (IERC20) {
        return _token;
    }

    /// @dev Called once per delivered result, after the sender and job were checked and the job
    ///      forgotten. Runs inside the registry's callback gas limit: keep it cheap, and record a
    ///      result it does not like rather than reverting (a revert only loses the result).
    function _onResult(uint256 jobId, bytes32 resultHash, bytes calldata vector) internal virtual;

    // ---------------------------------------------------------------- private
    function _submit(address payer, uint32 modelId, string[] memory inputs) private returns (uint256 firstJobId) {
        uint96 fee = _models.getModel(modelId).fee;
        uint256 total = uint256(fee) * inputs.length;
        if (payer != address(this) && total != 0) _token.safeTransferFrom(payer, address(this), total);
        // forceApprove: exactly this submission's fee, whatever allowance a failed one left.
        _token.forceApprove(address(_registry), total);
        firstJobId = _registry.submit(modelId, inputs, fee, true);
        // The ids are known only once submit returns. The registry is trusted and calls back
        // from finalize only, which a job submitted in this transaction cannot have reached.
        uint256 count = inputs.length;
        for (uint256 i = 0; i < count; ++i) {
            _pending[firstJobId + i] = true;
        }
        emit InferaJobsRequested(firstJobId, count, total, payer);
    }
}
