// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";

import {InferaConsumer} from "../consumers/InferaConsumer.sol";
import {VectorSet} from "../consumers/VectorSet.sol";
import {IJobRegistry} from "../interfaces/IJobRegistry.sol";
import {Cosine} from "../libraries/Cosine.sol";

/// @title SemanticMatchOracle
/// @notice Example dApp: anyone submits a claim (a text) and pays its inference fee; when the
///         claim's verified embedding arrives, the claim is accepted if its cosine similarity to
///         any vector of the owner's reference set is within the set's threshold, else rejected.
/// @dev A claim is judged by the reference set (and threshold) in force when it was submitted, so
///      the owner cannot change the terms of a claim in flight. The similarity is computed on
///      chain in the callback with libraries/Cosine.sol; references are stored as a data
///      contract (consumers/VectorSet.sol) to fit the registry's callback gas limit.
contract SemanticMatchOracle is InferaConsumer, Ownable2Step {
    // ------------------------------------------------------------------ types
    /// @notice Where a claim is.
    enum ClaimStatus {
        None,
        Pending,
        Accepted,
        Rejected,
        Unscored // the result's length differs from the references' (the model changed)
    }

    /// @dev One slot: the claimant, the reference set it is judged by, its status.
    struct Claim {
        address claimant;
        uint32 referenceSet;
        ClaimStatus status;
    }

    /// @dev One slot: the data contract holding the vectors, the threshold, how many vectors.
    struct ReferenceSet {
        address pointer;
        uint32 thresholdPpm;
        uint16 count;
    }

    // -------------------------------------------------------------- constants
    /// @notice Most vectors in a reference set: bounds the callback's gas (about 17,500 per
    ///         384-dim reference; with 4 the whole callback uses about 108,000 of the 200,000 limit).
    uint256 public constant MAX_REFERENCES = 4;

    // ------------------------------------------------------------- immutables
    /// @notice The model that embeds the claims.
    uint32 public immutable modelId;
    /// @notice Components per vector: the model's dimension at construction.
    uint16 public immutable dimension;

    // ------------------------------------------------------------------ state
    mapping(uint256 claimId => Claim) private _claims;
    mapping(uint32 setId => ReferenceSet) private _sets;
    uint32 private _currentSet;

    // ----------------------------------------------------------------- events
    /// @notice Reference set `setId` (`count` vectors, stored at `pointer`) with threshold
    ///         `thresholdPpm` now judges every claim submitted from here on.
    event ReferenceSetPublished(uint32 indexed setId, address pointer, uint16 count, uint32 thresholdPpm);
    /// @notice `claimant` submitted claim `claimId` (its job id), judged by set `setId`.
    event ClaimSubmitted(uint256 indexed claimId, address indexed claimant, uint32 setId);
    /// @notice The claim's embedding is within the threshold of reference `referenceIndex`;
    ///         `similarityPpm` is the best cosine in parts per million.
    event ClaimAccepted(uint256 indexed claimId, uint256 referenceIndex, int256 similarityPpm);
    /// @notice No reference is within the threshold; `similarityPpm` is the best cosine found.
    event ClaimRejected(uint256 indexed claimId, uint256 referenceIndex, int256 similarityPpm);
    /// @notice The result has `length` components, not `dimension`, so it was not scored.
    event ClaimUnscored(uint256 indexed claimId, uint256 length, uint256 dimension);

    // ----------------------------------------------------------------- errors
    /// @notice No reference set has been published yet.
    error SemanticMatchOracleNoReferences();
    /// @notice A reference set must hold 1 to `max` vectors (MAX_REFERENCES, or fewer for a
    ///         model so large that they would exceed a data contract).
    error SemanticMatchOracleInvalidReferenceCount(uint256 count, uint256 max);
    /// @notice Reference `index` has `length` components; every one needs `dimension`.
    error SemanticMatchOracleInvalidReference(uint256 index, uint256 length, uint256 dimension);
    /// @notice A threshold is above 1.0 (1,000,000 ppm) or zero.
    error SemanticMatchOracleInvalidThreshold(uint32 thresholdPpm);
    /// @notice Deploying the reference set's data contract failed.
    error SemanticMatchOracleStoreFailed();
    /// @notice `score` was given vectors of unusable lengths.
    error SemanticMatchOracleInvalidLengths(uint256 vector, uint256 references);
    /// @notice The model's dimension cannot be scored (not a positive multiple of 32).
    error SemanticMatchOracleInvalidDimension(uint16 dimension);

    // ------------------------------------------------------------ constructor
    /// @param registry_ The JobRegistry to submit claims to.
    /// @param modelId_ The model that embeds the claims (its dimension is fixed here).
    /// @param owner_ May publish reference sets.
    constructor(IJobRegistry registry_, uint32 modelId_, address owner_) InferaConsumer(registry_) Ownable(owner_) {
        uint16 dim = registry_.models().getModel(modelId_).dimension;
        if (dim == 0 || dim % 32 != 0) revert SemanticMatchOracleInvalidDimension(dim);
        modelId = modelId_;
        dimension = dim;
    }

    // --------------------------------------------------------------- external
    /// @notice Publish a new reference set and threshold for claims submitted from now on.
    /// @param references The vectors, each `dimension` int8 components packed one per byte.
    /// @param thresholdPpm Cosine a claim needs to some reference, 1.0 == 1,000,000.
    /// @return setId The new set's id.
    function setReferences(bytes[] calldata references, uint32 thresholdPpm)
        external
        onlyOwner
        returns (uint32 setId)
    {
        uint256 count = references.length;
        uint256 max = MAX_REFERENCES;
        if (VectorSet.MAX_BYTES / dimension < max) max = VectorSet.MAX_BYTES / dimension;
        if (count == 0 || count > max) revert SemanticMatchOracleInvalidReferenceCount(count, max);
        if (thresholdPpm == 0 || thresholdPpm > Cosine.PPM) revert SemanticMatchOracleInvalidThreshold(thresholdPpm);
        bytes memory data = "";
        for (uint256 i = 0; i < count; ++i) {
            uint256 length = references[i].length;
            if (length != dimension) revert SemanticMatchOracleInvalidReference(i, length, dimension);
            data = bytes.concat(data, references[i]);
        }
        address pointer = VectorSet.write(data);
        if (pointer == address(0)) revert SemanticMatchOracleStoreFailed();
        setId = ++_currentSet;
        // count <= MAX_REFERENCES fits 16 bits.
        _sets[setId] = ReferenceSet({pointer: pointer, thresholdPpm: thresholdPpm, count: uint16(count)});
        emit ReferenceSetPublished(setId, pointer, uint16(count), thresholdPpm);
    }

    /// @notice Submit a claim; the caller pays the model's fee in INFER (approve this contract).
    /// @param text The claim, embedded by the model.
    /// @return claimId The claim's id, which is its job's id.
    function submitClaim(string calldata text) external returns (uint256 claimId) {
        uint32 setId = _currentSet;
        if (setId == 0) revert SemanticMatchOracleNoReferences();
        string[] memory inputs = new string[](1);
        inputs[0] = text;
        claimId = _requestPaidBy(msg.sender, modelId, inputs);
        _claims[claimId] = Claim({claimant: msg.sender, referenceSet: setId, status: ClaimStatus.Pending});
        emit ClaimSubmitted(claimId, msg.sender, setId);
    }

    /// @notice Score `vector` against a concatenation of references (the callback's computation,
    ///         exposed to preview a claim off-chain).
    /// @param vector The vector, a positive multiple of 32 int8 components.
    /// @param references Vectors as long as `vector`, back to back.
    /// @param thresholdPpm The threshold, 1.0 == 1,000,000.
    /// @return index The nearest reference.
    /// @return similarityPpm Its cosine in parts per million, rounded towards zero.
    /// @return matched Whether any reference is within the threshold.
    function score(bytes calldata vector, bytes calldata references, uint32 thresholdPpm)
        external
        pure
        returns (uint256 index, int256 similarityPpm, bool matched)
    {
        if (vector.length == 0 || vector.length % 32 != 0 || references.length % vector.length != 0) {
            revert SemanticMatchOracleInvalidLengths(vector.length, references.length);
        }
        return VectorSet.nearest(vector, references, thresholdPpm);
    }

    /// @notice A claim's claimant, reference set and status.
    /// @param claimId The claim.
    /// @return The claim.
    function claimOf(uint256 claimId) external view returns (Claim memory) {
        return _claims[claimId];
    }

    /// @notice A reference set's data contract, threshold and size.
    /// @param setId The set.
    /// @return The set.
    function referenceSetOf(uint32 setId) external view returns (ReferenceSet memory) {
        return _sets[setId];
    }

    /// @notice The set new claims are judged by (0 before the first is published).
    /// @return The set's id.
    function currentReferenceSet() external view returns (uint32) {
        return _currentSet;
    }

    /// @notice The vectors of a reference set, back to back.
    /// @param setId The set.
    /// @return The packed vectors (empty for an unknown set).
    function referencesOf(uint32 setId) external view returns (bytes memory) {
        return VectorSet.read(_sets[setId].pointer);
    }

    // --------------------------------------------------------------- internal
    /// @dev Cost: two cold slots (claim, set), one EXTCODECOPY, the cosine per reference, one
    ///      slot write and an event. A self-call hands the references to Cosine as calldata.
    function _onResult(uint256 jobId, bytes32, bytes calldata vector) internal override {
        Claim storage claim = _claims[jobId];
        if (vector.length != dimension) {
            claim.status = ClaimStatus.Unscored;
            emit ClaimUnscored(jobId, vector.length, dimension);
            return;
        }
        ReferenceSet memory set = _sets[claim.referenceSet];
        (uint256 index, int256 similarity, bool matched) =
            this.score(vector, VectorSet.read(set.pointer), set.thresholdPpm);
        if (matched) {
            claim.status = ClaimStatus.Accepted;
            emit ClaimAccepted(jobId, index, similarity);
        } else {
            claim.status = ClaimStatus.Rejected;
            emit ClaimRejected(jobId, index, similarity);
        }
    }
}
