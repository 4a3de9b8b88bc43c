// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/// @title ModelRegistry
/// @notice The catalogue of models the network serves and the verification rule of each:
///         weights digest, output shape, cosine threshold, quorum, fee and phase windows.
contract ModelRegistry is AccessControl {
    // ------------------------------------------------------------------ types
    /// @notice How float outputs become the integers that are committed and compared.
    enum Quantization {
        None,
        /// One int8 per component, each vector scaled so that its largest |component| is 127.
        Int8MaxAbs
    }

    /// @dev Two slots: the digest, then every numeric parameter packed together.
    struct Model {
        bytes32 weightsDigest; // sha256 of the weights file
        uint96 fee; // INFER (wei) per job
        uint32 thresholdPpm; // cosine threshold, 1.0 == 1e6
        uint16 dimension; // output components, a multiple of 32
        Quantization quantization;
        uint8 quorum; // nodes assigned per job (q)
        uint8 minAgreement; // agreeing nodes needed to accept (m)
        uint32 commitWindow; // seconds
        uint32 revealWindow; // seconds
        bool active; // accepting new jobs
    }

    /// @notice Registration parameters, as passed by governance.
    struct ModelParams {
        string name;
        bytes32 weightsDigest;
        uint16 dimension;
        Quantization quantization;
        uint32 thresholdPpm;
        uint8 quorum;
        uint8 minAgreement;
        uint96 fee;
        uint32 commitWindow;
        uint32 revealWindow;
    }

    // -------------------------------------------------------------- constants
    /// @notice Role allowed to register and change models.
    bytes32 public constant MODEL_ADMIN_ROLE = keccak256("MODEL_ADMIN_ROLE");
    /// @notice Largest committee a job can have; agreement sets are tracked as bitmasks.
    uint8 public constant MAX_QUORUM = 16;
    /// @notice Largest output dimension (bounds the gas of on-chain cosine).
    uint16 public constant MAX_DIMENSION = 4096;
    /// @notice 1.0 in threshold units.
    uint32 public constant PPM = 1_000_000;
    /// @notice Longest commit or reveal window: a job's whole life must stay shorter than the
    ///         nodes' unbonding period, and jobs keep windows in 24 bits.
    uint32 public constant MAX_WINDOW = 7 days;
    /// @notice Most commit-and-reveal rounds one job can go through (the first and its redraws).
    uint8 public constant MAX_ROUNDS = 3;
    /// @notice Bound on quorum^2 * dimension, which sets the worst-case gas of a finalize: up to
    ///         MAX_ROUNDS * quorum revealed vectors, each compared with the latest round's quorum.
    ///         At this bound the worst case stays under half of a 30M-gas block
    ///         (tests/contracts/test_worst_case_finalize.py measures it: about 10.9M gas for
    ///         quorum 8 at 4,096 dimensions and for quorum 16 at 1,024).
    uint256 public constant MAX_AGREEMENT_WORK = 262_144;
    /// @notice Most models ever registered: JobRegistry stores a job's model id in 16 bits.
    uint32 public constant MAX_MODELS = type(uint16).max;

    // ------------------------------------------------------------- immutables
    /// @notice Longest life a job of any model may have: MAX_ROUNDS * (commitWindow +
    ///         revealWindow). NodeRegistry requires its unbonding period to be at least this.
    uint256 public immutable maxJobLifetime;

    // ------------------------------------------------------------------ state
    mapping(uint32 id => Model) private _models;
    mapping(uint32 id => string) private _names;
    uint32 private _modelCount;

    // ----------------------------------------------------------------- events
    /// @notice A model was registered or its parameters changed.
    event ModelConfigured(
        uint32 indexed modelId,
        string name,
        bytes32 weightsDigest,
        uint16 dimension,
        Quantization quantization,
        uint32 thresholdPpm,
        uint8 quorum,
        uint8 minAgreement,
        uint96 fee,
        uint32 commitWindow,
        uint32 revealWindow
    );
    /// @notice A model stopped or resumed accepting new jobs.
    event ModelActivationChanged(uint32 indexed modelId, bool active);

    // ----------------------------------------------------------------- errors
    /// @notice No model has this id.
    error ModelRegistryUnknownModel(uint32 modelId);
    /// @notice The threshold must lie in (0, 1e6].
    error ModelRegistryInvalidThreshold(uint32 thresholdPpm);
    /// @notice Need 1 <= quorum <= MAX_QUORUM and quorum/2 < minAgreement <= quorum.
    error ModelRegistryInvalidQuorum(uint8 quorum, uint8 minAgreement);
    /// @notice The dimension must be a non-zero multiple of 32, at most MAX_DIMENSION.
    error ModelRegistryInvalidDimension(uint16 dimension);
    /// @notice Only Int8MaxAbs is supported.
    error ModelRegistryUnsupportedQuantization(Quantization quantization);
    /// @notice Commit and reveal windows must lie in [1, MAX_WINDOW] seconds.
    error ModelRegistryInvalidWindow(uint32 commitWindow, uint32 revealWindow);
    /// @notice MAX_ROUNDS * (commitWindow + revealWindow) exceeds maxJobLifetime.
    error ModelRegistryLifetimeTooLong(uint256 lifetime, uint256 maxJobLifetime);
    /// @notice quorum^2 * dimension exceeds MAX_AGREEMENT_WORK: finalize might not fit a block.
    error ModelRegistryAgreementTooCostly(uint8 quorum, uint16 dimension);
    /// @notice The weights digest cannot be zero.
    error ModelRegistryZeroDigest();
    /// @notice MAX_MODELS models are registered already.
    error ModelRegistryFull(uint32 maxModels);
    /// @notice The name cannot be empty.
    error ModelRegistryEmptyName();

    /// @param admin Receives DEFAULT_ADMIN_ROLE and MODEL_ADMIN_ROLE.
    /// @param maxJobLifetime_ Longest job life any model may have, in seconds (non-zero).
    constructor(address admin, uint256 maxJobLifetime_) {
        if (maxJobLifetime_ == 0) revert ModelRegistryLifetimeTooLong(0, 0);
        maxJobLifetime = maxJobLifetime_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(MODEL_ADMIN_ROLE, admin);
    }

    // --------------------------------------------------------------- external
    /// @notice Register a new model; it is active at once.
    /// @param params The model's parameters (see ModelParams).
    /// @return modelId The new model's id (ids start at 1).
    function registerModel(ModelParams calldata params) external onlyRole(MODEL_ADMIN_ROLE) returns (uint32 modelId) {
        if (_modelCount == MAX_MODELS) revert ModelRegistryFull(MAX_MODELS);
        modelId = ++_modelCount;
        _configure(modelId, params);
        _models[modelId].active = true;
        emit ModelActivationChanged(modelId, true);
    }

    /// @notice Change a model's parameters. Jobs already submitted keep the threshold and
    ///         minimum agreement they were submitted with.
    /// @param modelId The model to change.
    /// @param params The new parameters.
    function updateModel(uint32 modelId, ModelParams calldata params) external onlyRole(MODEL_ADMIN_ROLE) {
        _requireExists(modelId);
        _configure(modelId, params);
    }

    /// @notice Stop or resume accepting new jobs for a model.
    /// @param modelId The model.
    /// @param active Whether new jobs are accepted.
    function setActive(uint32 modelId, bool active) external onlyRole(MODEL_ADMIN_ROLE) {
        _requireExists(modelId);
        _models[modelId].active = active;
        emit ModelActivationChanged(modelId, active);
    }

    // ------------------------------------------------------------------ views
    /// @notice A model's parameters; reverts for an unknown id.
    /// @param modelId The model.
    function getModel(uint32 modelId) external view returns (Model memory) {
        _requireExists(modelId);
        return _models[modelId];
    }

    /// @notice A model's name; reverts for an unknown id.
    /// @param modelId The model.
    function nameOf(uint32 modelId) external view returns (string memory) {
        _requireExists(modelId);
        return _names[modelId];
    }

    /// @notice Whether a model with this id exists.
    /// @param modelId The id to check.
    function exists(uint32 modelId) external view returns (bool) {
        return modelId != 0 && modelId <= _modelCount;
    }

    /// @notice How many models have been registered.
    function modelCount() external view returns (uint32) {
        return _modelCount;
    }

    // --------------------------------------------------------------- internal
    function _configure(uint32 modelId, ModelParams calldata p) private {
        if (bytes(p.name).length == 0) revert ModelRegistryEmptyName();
        if (p.weightsDigest == bytes32(0)) revert ModelRegistryZeroDigest();
        if (p.dimension == 0 || p.dimension % 32 != 0 || p.dimension > MAX_DIMENSION) {
            revert ModelRegistryInvalidDimension(p.dimension);
        }
        if (p.quantization != Quantization.Int8MaxAbs) revert ModelRegistryUnsupportedQuantization(p.quantization);
        if (p.thresholdPpm == 0 || p.thresholdPpm > PPM) revert ModelRegistryInvalidThreshold(p.thresholdPpm);
        if (p.quorum == 0 || p.quorum > MAX_QUORUM || p.minAgreement > p.quorum || 2 * uint16(p.minAgreement) <= p.quorum) {
            revert ModelRegistryInvalidQuorum(p.quorum, p.minAgreement);
        }
        if (p.commitWindow == 0 || p.revealWindow == 0 || p.commitWindow > MAX_WINDOW || p.revealWindow > MAX_WINDOW) {
            revert ModelRegistryInvalidWindow(p.commitWindow, p.revealWindow);
        }
        uint256 lifetime = uint256(MAX_ROUNDS) * (uint256(p.commitWindow) + p.revealWindow);
        if (lifetime > maxJobLifetime) revert ModelRegistryLifetimeTooLong(lifetime, maxJobLifetime);
        if (uint256(p.quorum) * p.quorum * p.dimension > MAX_AGREEMENT_WORK) {
            revert ModelRegistryAgreementTooCostly(p.quorum, p.dimension);
        }

        Model storage m = _models[modelId];
        m.weightsDigest = p.weightsDigest;
        m.fee = p.fee;
        m.thresholdPpm = p.thresholdPpm;
        m.dimension = p.dimension;
        m.quantization = p.quantization;
        m.quorum = p.quorum;
        m.minAgreement = p.minAgreement;
        m.commitWindow = p.commitWindow;
        m.revealWindow = p.revealWindow;
        _names[modelId] = p.name;
        emit ModelConfigured(
            modelId,
            p.name,
            p.weightsDigest,
            p.dimension,
            p.quantization,
            p.thresholdPpm,
            p.quorum,
            p.minAgreement,
            p.fee,
            p.commitWindow,
            p.revealWindow
        );
    }

    function _requireExists(uint32 modelId) private view {
        if (modelId == 0 || modelId > _modelCount) revert ModelRegistryUnknownModel(modelId);
    }
}
